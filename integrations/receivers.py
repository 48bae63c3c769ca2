"""A purged church's Planning Center connection and sync history go with it.

They are registry rows of the church: the connection holds its application
secret and Planning Center's webhook subscriptions, and the runs keep the ids
of the people on its lists.
"""

import logging
from typing import Any

from integrations.connection import disconnect
from integrations.models import PlanningCenterConnection, SyncRun
from tenants.lifecycle import tenant_purging
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def forget_planning_center(tenant: Tenant, **_: Any) -> None:
    """Never fails the purge: a subscription left behind at Planning Center
    only posts to a URL that answers 404, so when `disconnect` cannot finish
    (a secret that no longer decrypts, say) the connection goes anyway."""
    connections = PlanningCenterConnection.objects.filter(tenant=tenant)
    if connections.exists():
        try:
            disconnect(tenant)
        except Exception:
            logger.warning(
                "Planning Center subscriptions of %s left behind", tenant.pk,
                exc_info=True,
            )  # fmt: skip
            connections.delete()
    SyncRun.objects.filter(tenant=tenant).delete()  # their pages with them


tenant_purging.connect(forget_planning_center, dispatch_uid="integrations.purging")
