"""bench.plainapp's member CRUD, schema per tenant through django-tenants (the Host
header picks the schema): the peer bench.crud compares against."""
