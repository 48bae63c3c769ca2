from django.db import migrations


class Migration(migrations.Migration):
    """Suppressions now belong to members (state only: the table stays)."""

    dependencies = [
        ("messaging", "0003_dailyusage_from_billing"),
        ("members", "0003_suppression_from_messaging"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="Suppression",
                ),
            ],
        ),
    ]
