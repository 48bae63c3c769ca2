from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import (
    InvalidTransition,
    TenantNotFound,
    get_by_slug,
    suspend_tenant,
)


class Command(BaseCommand):
    help = "Suspend a tenant: its tokens answer 403 tenant_suspended until resumed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = suspend_tenant(tenant=get_by_slug(options["slug"]))
        except (TenantNotFound, InvalidTransition) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{tenant.slug} is {tenant.status}")
