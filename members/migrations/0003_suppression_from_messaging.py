from django.db import migrations, models


class Migration(migrations.Migration):
    """Suppressions, moved from `messaging` (state only: the table stays)."""

    dependencies = [
        ("members", "0002_search_indexes"),
        ("messaging", "0002_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Suppression",
                    fields=[
                        (
                            "phone",
                            models.CharField(
                                max_length=16, primary_key=True, serialize=False
                            ),
                        ),
                        ("source", models.CharField(max_length=20)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "messaging_suppression",
                    },
                ),
            ],
        ),
    ]
