from typing import Any

from django.core.management.base import BaseCommand

from tenants import ready_pool
from tenants.models import DatabaseServer


class Command(BaseCommand):
    help = (
        "Top up every active server's pool of ready tenant databases "
        "(TENANT_READY_POOL each), dropping members older than the migrations."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        made = ready_pool.refill_all()
        for server in DatabaseServer.objects.filter(active=True):
            ready = server.ready_databases.filter(ready=True).count()
            self.stdout.write(f"{server.name}: {ready} ready")
        self.stdout.write(f"made {made}")
