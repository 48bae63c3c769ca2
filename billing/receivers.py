"""What billing does when other apps act: connected when billing is ready.

A church starts its trial as its `Tenant` row is created and claims no more
sending numbers than its plan includes, the registry's daily usage rollup
follows each recount of the church's own counters, and a church being deleted
stops being billed: at the deletion, and again at the purge if Stripe could
not be reached the first time.
"""

import logging
from typing import Any

from django.db.models.signals import post_save

from billing.actions import cancel_for_deletion
from billing.allowance import limit_numbers, start_trial
from billing.usage import record_usage
from church.numbers import claiming_number
from messaging.usage import usage_recorded
from tenants.lifecycle import tenant_deleting, tenant_purging
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def stop_billing(tenant: Tenant, by: str = "purge", **_: Any) -> None:
    """At the deletion a failure is logged (the purge tries again); at the
    purge it fails the purge, which the reconciler retries."""
    cancel_for_deletion(tenant, by=by)


def stop_billing_soon(tenant: Tenant, by: str, **_: Any) -> None:
    try:
        stop_billing(tenant, by=by)
    except Exception:
        logger.exception("cancelling the subscription of %s failed", tenant.pk)


post_save.connect(start_trial, sender=Tenant, dispatch_uid="billing.trial")
claiming_number.connect(limit_numbers, dispatch_uid="billing.numbers")
usage_recorded.connect(record_usage, dispatch_uid="billing.usage")
tenant_deleting.connect(stop_billing_soon, dispatch_uid="billing.deleting")
tenant_purging.connect(stop_billing, dispatch_uid="billing.purging")
