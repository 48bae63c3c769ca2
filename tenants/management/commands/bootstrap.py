from collections.abc import Mapping
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from tenants import ready_pool
from tenants.provisioning import sync_configured_servers


class Command(BaseCommand):
    help = (
        "Create the registry database if it is missing, migrate it, and register "
        "the servers of TENANT_DB_SERVERS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        registry = settings.DATABASES["default"]
        if registry["ENGINE"] == "django.db.backends.postgresql":
            self._create_pg_database(registry)
        elif registry["ENGINE"] == "django.db.backends.sqlite3":
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=options["verbosity"], interactive=False)
        sync_configured_servers()
        ready_pool.refill_all()
        self.stdout.write("registry ready")

    def _create_pg_database(self, registry: Mapping[str, Any]) -> None:
        try:
            conn = psycopg.connect(
                host=registry["HOST"] or None,
                port=registry["PORT"] or None,
                user=registry["USER"] or None,
                password=registry["PASSWORD"] or None,
                dbname="postgres",
                autocommit=True,
                connect_timeout=5,
            )
        except psycopg.OperationalError as exc:
            raise CommandError(f"Cannot reach the registry server: {exc}") from exc
        name = sql.Identifier(registry["NAME"])
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [registry["NAME"]]
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
                self.stdout.write(f"created registry database {registry['NAME']}")
            # Tenant roles (and anyone else) must not even connect to the registry.
            try:
                conn.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO CURRENT_USER").format(name)
                )
                conn.execute(
                    sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(name)
                )
            except psycopg.errors.InsufficientPrivilege:
                self.stderr.write(
                    "could not revoke CONNECT on the registry from PUBLIC"
                )
