"""A plain single-database Django + DRF app: the baseline of `bench.crud`.

The same member model (same tables, columns and indexes, trigram ones included),
the same serializer logic, view, pagination and middleware as the real
`members` app, but one fixed `DATABASES["default"]` and no tenancy: no tenant
middleware, no router, no registry. Tokens are the real app's access tokens,
verified statelessly with simplejwt (signature and expiry only, no SQL).

Served by `gunicorn 'django.core.wsgi:get_wsgi_application()'` with
`DJANGO_SETTINGS_MODULE=bench.plainapp.settings` and `PLAIN_DATABASE_URL`;
`python -m bench.plainapp migrate | seed N | count TOKEN REPEATS` prepares its
database and counts its SQL per request.
"""
