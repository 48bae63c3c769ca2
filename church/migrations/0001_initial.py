import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Sending numbers, moved from `tenants` (state only: the table stays)."""

    initial = True

    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SendingNumber",
                    fields=[
                        (
                            "number",
                            models.CharField(
                                max_length=16, primary_key=True, serialize=False
                            ),
                        ),
                        ("branch_id", models.UUIDField(blank=True, null=True)),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="numbers",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tenants_sendingnumber",
                    },
                ),
            ],
        ),
    ]
