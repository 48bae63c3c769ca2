from django.db import migrations


MOVED = {
    "user": "accounts",
    "membership": "accounts",
    "loginsession": "accounts",
    "revocation": "accounts",
    "sendingnumber": "church",
    "usagerollup": "billing",
}


def relabel_content_types(apps, schema_editor):
    """Permissions granted on the moved models follow them to their new apps."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model, app_label in MOVED.items():
        if (
            not ContentType.objects.using(db)
            .filter(app_label=app_label, model=model)
            .exists()
        ):
            ContentType.objects.using(db).filter(
                app_label="tenants", model=model
            ).update(app_label=app_label)
    for model, old, new in [
        ("suppression", "messaging", "members"),
        ("dailyusage", "billing", "messaging"),
    ]:
        if (
            not ContentType.objects.using(db)
            .filter(app_label=new, model=model)
            .exists()
        ):
            ContentType.objects.using(db).filter(app_label=old, model=model).update(
                app_label=new
            )


class Migration(migrations.Migration):
    """Identity, sending numbers and the usage rollup left the tenancy app.

    State only: their tables stay (their new apps name them with db_table).
    """

    dependencies = [
        ("tenants", "0001_initial"),
        ("accounts", "0001_initial"),
        ("church", "0001_initial"),
        ("billing", "0002_usage_rollup_from_tenants"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="loginsession",
                    name="tenant",
                ),
                migrations.RemoveField(
                    model_name="loginsession",
                    name="user",
                ),
                migrations.RemoveConstraint(
                    model_name="membership",
                    name="membership_unique",
                ),
                migrations.DeleteModel(
                    name="Revocation",
                ),
                migrations.RemoveField(
                    model_name="sendingnumber",
                    name="tenant",
                ),
                migrations.RemoveConstraint(
                    model_name="usagerollup",
                    name="usage_once_a_day",
                ),
                migrations.RemoveField(
                    model_name="user",
                    name="groups",
                ),
                migrations.RemoveField(
                    model_name="user",
                    name="user_permissions",
                ),
                migrations.DeleteModel(
                    name="LoginSession",
                ),
                migrations.RemoveField(
                    model_name="membership",
                    name="tenant",
                ),
                migrations.RemoveField(
                    model_name="membership",
                    name="user",
                ),
                migrations.DeleteModel(
                    name="SendingNumber",
                ),
                migrations.RemoveField(
                    model_name="usagerollup",
                    name="tenant",
                ),
                migrations.DeleteModel(
                    name="User",
                ),
                migrations.DeleteModel(
                    name="Membership",
                ),
                migrations.DeleteModel(
                    name="UsageRollup",
                ),
            ],
        ),
        migrations.RunPython(relabel_content_types, migrations.RunPython.noop),
    ]
