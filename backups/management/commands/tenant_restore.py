import datetime as dt
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from backups.restoring import RestoreRefused, choose_backup, restore
from tenants.servers.base import CopyFailed, ToolMissing
from tenants.services import TenantNotFound, get_by_slug


class Command(BaseCommand):
    help = (
        "Restore a church from a backup into a new database, migrated forward and "
        "with the opt-outs and erasures made since re-applied, then swapped in "
        "during a few seconds of maintenance; the old database is kept --keep-old days."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--backup", metavar="ID", help="a backup id (default: the latest)"
        )
        parser.add_argument(
            "--at", metavar="TIME", help="the latest backup begun by TIME (ISO 8601)"
        )
        parser.add_argument("--keep-old", type=int, default=7, metavar="DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        backup_id = at = None
        if options["backup"] and options["at"]:
            raise CommandError("Give --backup or --at, not both.")
        if options["backup"]:
            try:
                backup_id = uuid.UUID(options["backup"])
            except ValueError as exc:
                raise CommandError(
                    f"{options['backup']!r} is not a backup id."
                ) from exc
        if options["at"]:
            at = parse_datetime(options["at"])
            if at is None:
                raise CommandError(f"{options['at']!r} is not an ISO 8601 time.")
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
        if options["keep_old"] < 0:
            raise CommandError("--keep-old must not be negative.")
        try:
            tenant = get_by_slug(options["slug"])
            backup = choose_backup(tenant, backup_id=backup_id, at=at)
            report = restore(tenant, backup, keep_old_days=options["keep_old"])
        except (TenantNotFound, RestoreRefused, ToolMissing, CopyFailed) as exc:
            raise CommandError(str(exc)) from exc
        for table, count in sorted(report.tables.items()):
            self.stdout.write(f"  {table}: {count} rows")
        self.stdout.write(
            f"{tenant.slug} restored from backup {backup.pk} "
            f"({backup.started_at:%Y-%m-%d %H:%M:%S %Z}); {report.reapplied} privacy "
            f"event(s) re-applied; {report.maintenance_seconds:.1f} s in maintenance; "
            f"the old database is kept as {report.retired}"
        )
