from django.db import migrations, models


def copy_billing_usage(apps, schema_editor):
    """Bring over the counters billing kept here, then drop billing's table."""
    connection = schema_editor.connection
    if "billing_dailyusage" not in connection.introspection.table_names():
        return  # a church created after billing left the tenant databases
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO messaging_dailyusage (date, messages, segments) "
            "SELECT date, messages, segments FROM billing_dailyusage"
        )
        cursor.execute("DROP TABLE billing_dailyusage")


class Migration(migrations.Migration):
    """Each church's daily usage now belongs to messaging, which counts it."""

    dependencies = [
        ("messaging", "0002_indexes"),
        ("billing", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("date", models.DateField(unique=True)),
                ("messages", models.PositiveIntegerField(default=0)),
                ("segments", models.PositiveIntegerField(default=0)),
            ],
            options={
                "ordering": ["-date"],
            },
        ),
        migrations.RunPython(copy_billing_usage, migrations.RunPython.noop),
    ]
