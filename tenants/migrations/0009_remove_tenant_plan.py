"""Tenant.plan leaves the model; its column stays one release longer.

Processes of the previous release still select and insert it while the new
one is rolled out, so the column only gets a database default here (new code
inserts without it). The release after this one drops it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0008_onboarding"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterField(
                    model_name="tenant",
                    name="plan",
                    field=models.CharField(
                        max_length=32, default="starter", db_default="starter"
                    ),
                ),
            ],
            state_operations=[
                migrations.RemoveField(model_name="tenant", name="plan"),
            ],
        ),
    ]
