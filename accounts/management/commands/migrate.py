"""Django's `migrate`, able to upgrade a database made before `accounts` existed.

The people who log in moved from the `tenants` app to `accounts` (their tables
did not move). Django's admin migrations depend on the app of AUTH_USER_MODEL,
so on such a database `migrate` would stop at its consistency check (admin
applied, accounts not). The move is state only, so before Django checks, it is
recorded as applied wherever the original tables were created.
"""

from typing import Any

from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

MOVED_FROM = ("tenants", "0001_initial")
MOVE = ("accounts", "0001_initial")


class Command(MigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        recorder = MigrationRecorder(connections[options["database"]])
        if recorder.has_table():
            applied = recorder.applied_migrations()
            if MOVED_FROM in applied and MOVE not in applied:
                recorder.record_applied(*MOVE)
        super().handle(*args, **options)
