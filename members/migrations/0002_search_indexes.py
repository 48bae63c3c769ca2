"""Trigram indexes for member search (PostgreSQL only; SQLite scans, which is fine
for the embedded default).

`icontains` is `UPPER(col) LIKE UPPER('%q%')` on PostgreSQL: a GIN trigram index
on UPPER(col) serves it, and the OR over name, email and phone becomes a
bitmap OR of index scans instead of a scan of every member.
"""

from django.db import migrations

COLUMNS = ["first_name", "last_name", "email"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS member_{column}_trgm ON members_member "
            f"USING gin (UPPER({column}) gin_trgm_ops)"
        )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS member_phone_trgm ON members_member "
        "USING gin (phone gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*COLUMNS, "phone"]:
        schema_editor.execute(f"DROP INDEX IF EXISTS member_{name}_trgm")


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
