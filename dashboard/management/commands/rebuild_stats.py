from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.stats import rebuild
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.services import TenantNotFound, get_by_slug


class Command(BaseCommand):
    help = (
        "Recompute churches' daily statistics from their messages, consent "
        "records and members (all active churches, or those named)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenants = [get_by_slug(slug) for slug in options["slugs"]] or list(
                Tenant.objects.filter(status=Tenant.Status.ACTIVE)
            )
        except TenantNotFound as exc:
            raise CommandError(str(exc)) from exc
        for tenant in tenants:
            with tenant_context(tenant):
                rows = rebuild()
            self.stdout.write(f"{tenant.slug}: {rows} day(s) rebuilt")
