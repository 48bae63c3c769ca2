from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.migrating import migrate_tenants
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Migrate each server's template, then every tenant not yet at the current "
        "migration fingerprint, recording each outcome in the registry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant",
            action="append",
            dest="slugs",
            metavar="SLUG",
            help="only this tenant (repeatable)",
        )
        parser.add_argument(
            "--parallel", type=int, default=1, help="worker processes (default 1)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slugs = options["slugs"]
        if options["parallel"] < 1:
            raise CommandError("--parallel must be at least 1.")
        if slugs:
            known = set(
                Tenant.objects.filter(slug__in=slugs).values_list("slug", flat=True)
            )
            unknown = sorted(set(slugs) - known)
            if unknown:
                raise CommandError(f"Unknown tenant(s): {', '.join(unknown)}")
        report = migrate_tenants(slugs=slugs, parallel=options["parallel"])
        for outcome in report.migrated:
            self.stdout.write(f"migrated {outcome.slug} in {outcome.seconds:.2f}s")
        for outcome in report.failed:
            self.stderr.write(f"FAILED {outcome.slug}: {outcome.error}")
        self.stdout.write(
            f"{len(report.migrated)} migrated, {len(report.failed)} failed, "
            f"{report.skipped} already current (fingerprint {report.fingerprint[:12]})"
        )
        if report.templates_failed:
            self.stderr.write(
                f"template failed on: {', '.join(report.templates_failed)}"
            )
        if report.failed or report.templates_failed:
            names = [o.slug for o in report.failed] + report.templates_failed
            raise CommandError(f"Migration failed for: {', '.join(names)}")
