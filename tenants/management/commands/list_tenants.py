import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.models import Tenant


class Command(BaseCommand):
    help = "List tenants with status, server and migration state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", choices=Tenant.Status.values)
        parser.add_argument(
            "--json", action="store_true", help="one JSON object per line"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.select_related("server").order_by("slug")
        if options["status"]:
            tenants = tenants.filter(status=options["status"])
        for t in tenants:
            row = {
                "slug": t.slug,
                "id": str(t.id),
                "name": t.name,
                "status": t.status,
                "server": t.server.name,
                "database": t.database_name,
                "migrated_at": t.migrated_at.isoformat() if t.migrated_at else None,
                "fingerprint": t.migration_fingerprint[:12],
                "error": t.migration_error[:200],
            }
            if options["json"]:
                self.stdout.write(json.dumps(row))
            else:
                self.stdout.write(
                    f"{row['slug']:<30} {row['status']:<13} {row['server']:<20} "
                    f"{row['fingerprint'] or '-':<12} {row['error']}"
                )
