"""A plain single-database Django + DRF app: the baseline of bench/crud.py.

The same member model (same tables, columns and indexes, trigram ones included),
the same serializer logic, view, pagination and middleware as the real
`members` app, but one fixed `DATABASES["default"]` and no tenancy: no tenant
middleware, no router, no registry. Tokens are the real app's access tokens,
verified statelessly with simplejwt (signature and expiry only, no SQL).

Run it with `gunicorn plainapp.wsgi --pythonpath bench` and
`PLAIN_DATABASE_URL=postgres://...`; `python -m plainapp.tools` migrates, seeds
and counts queries.
"""
