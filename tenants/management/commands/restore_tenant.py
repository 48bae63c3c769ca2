from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.lifecycle import restore_deleted
from tenants.services import InvalidTransition, TenantNotFound, get_by_slug


class Command(BaseCommand):
    help = "Restore a church in its deletion grace period: active again, as it was."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = restore_deleted(get_by_slug(options["slug"]))
        except (TenantNotFound, InvalidTransition) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{tenant.slug} is {tenant.status}")
