import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Billing becomes a registry app: the usage rollup moves in from `tenants`
    (state only: the table stays), the per-church daily counters move to
    `messaging` (which copies them in each church's database).

    On the registry, 0001 created billing_dailyusage once billing counted as a
    registry app; it is dropped here. Tenant databases never run this.
    """

    dependencies = [
        ("billing", "0001_initial"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UsageRollup",
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
                        ("date", models.DateField()),
                        ("messages", models.PositiveIntegerField(default=0)),
                        ("segments", models.PositiveIntegerField(default=0)),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="usage",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tenants_usagerollup",
                        "ordering": ["-date"],
                    },
                ),
                migrations.DeleteModel(
                    name="DailyUsage",
                ),
                migrations.AddConstraint(
                    model_name="usagerollup",
                    constraint=models.UniqueConstraint(
                        fields=("tenant", "date"), name="usage_once_a_day"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP TABLE IF EXISTS billing_dailyusage",
                    reverse_sql=migrations.RunSQL.noop,
                ),
            ],
        ),
    ]
