from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.moves import MoveRefused, move, plan_move
from tenants.servers.base import CopyFailed, ServerUnavailable, ToolMissing
from tenants.services import TenantNotFound, get_by_slug


class Command(BaseCommand):
    help = (
        "Move a church's database to another PostgreSQL server by logical "
        "replication: copied while the church works, then a few seconds of "
        "maintenance for the catch-up and the switch. The source needs "
        "wal_level = logical; its old database is kept --keep-old days."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--to", required=True, metavar="SERVER", help="a server's name"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check, change nothing"
        )
        parser.add_argument("--keep-old", type=int, default=7, metavar="DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keep_old"] < 0:
            raise CommandError("--keep-old must not be negative.")
        try:
            plan = plan_move(get_by_slug(options["slug"]), options["to"])
            if options["dry_run"]:
                self.stdout.write(
                    f"{plan.tenant.slug} can move from {plan.source.name} to "
                    f"{plan.target.name} (dry run: nothing changed)"
                )
                return
            report = move(plan, keep_old_days=options["keep_old"])
        except (
            TenantNotFound,
            MoveRefused,
            ToolMissing,
            CopyFailed,
            ServerUnavailable,
        ) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{plan.tenant.slug} moved from {plan.source.name} to {plan.target.name}: "
            f"copied in {report.copy_seconds:.1f} s, writes paused "
            f"{report.paused_seconds:.1f} s; the old database is kept on "
            f"{plan.source.name} for {options['keep_old']} days"
        )
