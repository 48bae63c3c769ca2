from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import DatabaseServer
from tenants.provisioning import ProvisioningError, provision_tenant


class Command(BaseCommand):
    help = "Create a tenant and its database (cloned from the migrated template)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the church's name")
        parser.add_argument(
            "--slug", help="URL-safe short name (default: from the name)"
        )
        parser.add_argument("--timezone", default="America/New_York")
        parser.add_argument("--country", default="US", help="ISO 3166 alpha-2")
        parser.add_argument(
            "--server", help="database server name (default: most room)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        server = None
        if options["server"]:
            server = DatabaseServer.objects.filter(name=options["server"]).first()
            if server is None:
                raise CommandError(f"No database server named {options['server']!r}.")
        try:
            tenant = provision_tenant(
                name=options["name"],
                slug=options["slug"],
                timezone_name=options["timezone"],
                country=options["country"].upper(),
                server=server,
            )
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{tenant.slug} {tenant.id} {tenant.status} on {tenant.server}"
        )
