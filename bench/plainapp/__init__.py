"""A plain single-database Django + DRF app: the baseline of `bench.crud`.

The real `members` app's tables, columns and indexes (trigram ones included),
serializer logic, the statements its services write (the opt-out check, the
consent record, the day's count), view, pagination and middleware on one fixed
`DATABASES["default"]`, without tenancy (no tenant middleware, router or
registry); the real app's access tokens verified statelessly with simplejwt
(signature and expiry only, no SQL). Served by gunicorn with
`DJANGO_SETTINGS_MODULE=bench.plainapp.settings` and `PLAIN_DATABASE_URL`.
"""
