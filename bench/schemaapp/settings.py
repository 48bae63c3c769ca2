"""Settings of the schema-per-tenant peer: bench.plainapp's, through django-tenants,
on the database PLAIN_DATABASE_URL names (one of its own)."""

from bench.plainapp.settings import *  # noqa: F403 (the same app, middleware, auth)
from bench.plainapp.settings import DATABASES, INSTALLED_APPS, MIDDLEWARE

DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
SHARED_APPS = [
    "django_tenants",
    "bench.schemaapp",
    *(app for app in INSTALLED_APPS if app != "bench.plainapp"),
]
TENANT_APPS = ["django.contrib.contenttypes", "bench.plainapp"]
INSTALLED_APPS = [*SHARED_APPS, "bench.plainapp"]
TENANT_MODEL = "schemaapp.Church"
TENANT_DOMAIN_MODEL = "schemaapp.Domain"
TENANT_BASE_SCHEMA = "base"
MIDDLEWARE = ["django_tenants.middleware.main.TenantMainMiddleware", *MIDDLEWARE]
# An unknown host (the readiness probe's 127.0.0.1) is served from public.
SHOW_PUBLIC_IF_NO_TENANT_FOUND = True
