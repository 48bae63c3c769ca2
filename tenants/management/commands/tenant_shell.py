import code
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.context import tenant_context
from tenants.services import TenantNotFound, get_by_slug


class Command(BaseCommand):
    help = "A Python shell (or one command with -c) inside one tenant's context."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("-c", "--command", help="run this code and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = get_by_slug(options["slug"])
        except TenantNotFound as exc:
            raise CommandError(str(exc)) from exc
        namespace = {"tenant": tenant}
        with tenant_context(tenant):
            if options["command"]:
                exec(options["command"], namespace)  # an operator's own code
                return
            code.interact(banner=f"Tenant {tenant.slug} ({tenant.id})", local=namespace)
