from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.dumping import backup_many
from tenants.models import Tenant
from tenants.services import TenantNotFound, get_by_slug


class Command(BaseCommand):
    help = (
        "Back up churches' databases to BACKUP_STORAGE (pg_dump custom format, or "
        "SQLite's backup API), each recorded with its size and SHA-256."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", metavar="SLUG")
        parser.add_argument("--all", action="store_true", help="every active church")
        parser.add_argument("--parallel", type=int, default=1, metavar="N")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"] == bool(options["slugs"]):
            raise CommandError("Name churches by slug, or give --all (not both).")
        if options["parallel"] < 1:
            raise CommandError("--parallel must be at least 1.")
        if options["all"]:
            tenants = list(Tenant.objects.filter(status=Tenant.Status.ACTIVE))
        else:
            try:
                tenants = [get_by_slug(slug) for slug in options["slugs"]]
            except TenantNotFound as exc:
                raise CommandError(str(exc)) from exc
        failed = 0
        for tenant, outcome in backup_many(tenants, parallel=options["parallel"]):
            if isinstance(outcome, Exception):
                failed += 1
                self.stderr.write(f"{tenant.slug}: failed: {outcome}")
            else:
                self.stdout.write(
                    f"{tenant.slug}: backup {outcome.pk} ({outcome.size} bytes, "
                    f"sha256 {outcome.sha256[:12]}...)"
                )
        if failed:
            raise CommandError(f"{failed} of {len(tenants)} backup(s) failed.")
