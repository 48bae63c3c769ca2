"""`python -m bench.schemaapp setup N MEMBERS`: N churches (hosts t0.bench ...),
each a schema made from a migrated base schema's DDL (pg_dump), each seeded."""

import os
import re
import subprocess
import sys

import django


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.schemaapp.settings"
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from bench.cycle import seed_rows
    from bench.plainapp.models import seed
    from bench.product import search_indexes
    from bench.schemaapp.models import Church, Domain

    command, count, members = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if command != "setup":
        raise SystemExit(f"unknown command {command!r}")
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    call_command("migrate_schemas", shared=True, run_syncdb=True, verbosity=0)
    public = Church(schema_name="public")
    public.save()
    Domain.objects.create(domain="public.bench", tenant=public, is_primary=True)
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS base")
    call_command("migrate_schemas", schema_name="base", run_syncdb=True, verbosity=0)
    with schema_context("base"), connection.schema_editor() as editor:
        search_indexes(None, editor)  # the real app's trigram indexes
    ddl = _schema_ddl(os.environ["PLAIN_DATABASE_URL"], "base")
    rows = seed_rows(members)
    for i in range(count):
        church = Church(schema_name=f"t{i}")
        church.auto_create_schema = False
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA t{i}")
            cursor.execute(re.sub(r"\bbase\.", f"t{i}.", ddl))
        church.save()
        Domain.objects.create(domain=f"t{i}.bench", tenant=church, is_primary=True)
        with schema_context(church.schema_name):
            seed(rows)
        if (i + 1) % 100 == 0:
            print(f"  schema churches {i + 1}/{count}", flush=True)


def _schema_ddl(url: str, schema: str) -> str:
    """The schema's tables, indexes and constraints as SQL, schema-qualified."""
    dump = subprocess.run(
        ["pg_dump", "--schema-only", f"--schema={schema}", "--no-owner",
         "--no-privileges", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    skipped = ("--", "\\", "SET ", "SELECT pg_catalog.set_config", "CREATE SCHEMA")
    return "\n".join(line for line in dump.splitlines() if not line.startswith(skipped))


if __name__ == "__main__":
    main()
