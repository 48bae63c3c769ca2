from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.provisioning import reconcile_tenants


class Command(BaseCommand):
    help = (
        "Finish or clean up tenants stuck in provisioning/deleting and drop tenant "
        "databases that no live tenant owns."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="SECONDS",
            help="only touch what has been stuck this long "
            "(default TENANT_PROVISIONING_GRACE_SECONDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = options["older_than"]
        if seconds is not None and seconds < 0:
            raise CommandError("--older-than must not be negative.")
        report = reconcile_tenants(
            older_than=None if seconds is None else timedelta(seconds=seconds)
        )
        for label, items in (
            ("activated", report.activated),
            ("cleaned up", report.failed),
            ("deleted", report.deleted),
            ("orphan dropped", report.orphans_dropped),
        ):
            for item in items:
                self.stdout.write(f"{label}: {item}")
        for error in report.errors:
            self.stderr.write(f"error: {error}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} item(s) could not be reconciled.")
        self.stdout.write("reconciled")
