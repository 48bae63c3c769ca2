from urllib.parse import urlsplit, urlunsplit

from django.db import migrations, models

from tenants.secrets import encrypt


def split_password(url):
    """`url` without its password, and the password (as tenants.models had it)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon:
        return url, ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), password


def move_passwords_out_of_urls(apps, schema_editor):
    """Each server's password leaves its URL for the encrypted field.

    RunPython asks the router first, so this runs on the registry only (the
    tenants app does not migrate in tenant databases).
    """
    DatabaseServer = apps.get_model("tenants", "DatabaseServer")
    servers = DatabaseServer.objects.using(schema_editor.connection.alias)
    for server in servers.all():
        url, password = split_password(server.url)
        if not password:
            continue
        if servers.filter(url=url).exclude(pk=server.pk).exists():
            raise RuntimeError(
                f"Servers {server.name!r} and another differ only by their "
                "password; remove one before migrating."
            )
        server.url = url
        server.password = encrypt(password)
        server.save(update_fields=["url", "password"])


class Migration(migrations.Migration):
    """Database servers' admin passwords are stored encrypted, not in the URL."""

    dependencies = [
        ("tenants", "0002_identity_numbers_usage_moved_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="databaseserver",
            name="password",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(move_passwords_out_of_urls, migrations.RunPython.noop),
    ]
