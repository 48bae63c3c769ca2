"""A purged church's Planning Center connection and sync history go with it.

They are registry rows of the church: the connection holds its application
secret and Planning Center's webhook subscriptions (removed there when it
answers), and the runs keep the ids of the people on its lists.
"""

from typing import Any

from integrations.connection import disconnect
from integrations.models import PlanningCenterConnection, SyncRun
from tenants.lifecycle import tenant_purging
from tenants.models import Tenant


def forget_planning_center(tenant: Tenant, **_: Any) -> None:
    if PlanningCenterConnection.objects.filter(tenant=tenant).exists():
        disconnect(tenant)
    SyncRun.objects.filter(tenant=tenant).delete()  # their pages with them


tenant_purging.connect(forget_planning_center, dispatch_uid="integrations.purging")
