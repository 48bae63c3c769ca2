"""A purged church's Planning Center connection and sync history go with it.

They are registry rows of the church: the connection holds its application
secret and Planning Center's webhook subscriptions, and the runs keep the ids
of the people on its lists.
"""

import logging
from typing import Any

from integrations.connection import client_for
from integrations.models import PlanningCenterConnection, SyncRun
from tenants.lifecycle import tenant_purging
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def forget_planning_center(tenant: Tenant, **_: Any) -> None:
    """Never fails the purge: a subscription left behind at Planning Center
    only posts to a URL that answers 404, so the first failure (unreachable,
    a secret that no longer decrypts) ends the attempt to remove them."""
    connection = PlanningCenterConnection.objects.filter(tenant=tenant).first()
    if connection is not None:
        try:
            client = client_for(connection)
            for subscription in connection.subscriptions:
                client.unsubscribe(subscription["id"])
        except Exception:
            logger.warning(
                "Planning Center subscriptions of %s left behind", tenant.pk,
                exc_info=True,
            )  # fmt: skip
        connection.delete()
    SyncRun.objects.filter(tenant=tenant).delete()  # their pages with them


tenant_purging.connect(forget_planning_center, dispatch_uid="integrations.purging")
