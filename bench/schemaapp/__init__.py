"""The same member CRUD as `bench.plainapp`, schema per tenant with django-tenants.

The peer the CRUD benchmark compares against: one database, one schema per
church, `TenantMainMiddleware` picking the schema from the Host header
(`t<i>.bench`), and `bench.plainapp`'s model, serializer and view as the
tenant app. Churches are cloned from a migrated base schema
(`TENANT_BASE_SCHEMA`), as django-tenants does for fast tenant creation.
"""
