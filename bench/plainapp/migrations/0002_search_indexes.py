"""members/migrations/0002_search_indexes.py: the same trigram indexes."""

from django.db import migrations

COLUMNS = ["first_name", "last_name", "email"]


def forwards(apps, schema_editor):
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


class Migration(migrations.Migration):
    dependencies = [("plainapp", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
