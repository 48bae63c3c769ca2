"""A purged church's sending numbers are freed for others to claim.

They stay claimed through the deletion's grace period, so that a church
restored within it gets them back; nothing is routed to a `deleting` church
meanwhile (the webhooks serve only active and suspended churches).
"""

from typing import Any

from church.models import SendingNumber
from tenants.lifecycle import tenant_purging
from tenants.models import Tenant


def free_numbers(tenant: Tenant, **_: Any) -> None:
    SendingNumber.objects.filter(tenant=tenant).delete()


tenant_purging.connect(free_numbers, dispatch_uid="church.purging")
