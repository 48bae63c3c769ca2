"""A migration that exists only in tests: what a deploy adding one looks like."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("templates_app", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="ExtraNote",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("text", models.CharField(max_length=100)),
            ],
        ),
    ]
