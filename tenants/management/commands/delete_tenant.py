from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tenants.lifecycle import purge, start_deletion
from tenants.models import Tenant
from tenants.services import InvalidTransition, TenantNotFound, get_by_slug


class Command(BaseCommand):
    help = (
        "Delete a church: `deleting` now (tokens refused, sends stopped, billing "
        "cancelled), restorable with restore_tenant until TENANT_DELETE_GRACE_DAYS "
        "have passed, then purged by the reconciler."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--now",
            action="store_true",
            help="purge at once: the database, its role and exports are gone for good",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = get_by_slug(options["slug"])
            if tenant.status != Tenant.Status.DELETING:
                tenant = start_deletion(tenant, by="delete_tenant command")
            if options["now"]:
                Tenant.objects.filter(pk=tenant.pk).update(purge_after=timezone.now())
                purge(tenant)
                self.stdout.write(f"{options['slug']} is purged")
                return
        except (TenantNotFound, InvalidTransition) as exc:
            raise CommandError(str(exc)) from exc
        until = f"{tenant.purge_after:%Y-%m-%d %H:%M %Z}"
        self.stdout.write(f"{tenant.slug} is {tenant.status} until {until}")
