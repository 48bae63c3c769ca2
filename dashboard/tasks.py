"""Daily: note which churches have finished onboarding (for the console)."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboard.onboarding import checklist
from tenants.context import tenant_context
from tenants.errors import TenantUnavailable
from tenants.models import Tenant

logger = logging.getLogger(__name__)


@shared_task(name="dashboard.tasks.record_onboarding_task")  # type: ignore[untyped-decorator]
def record_onboarding_task() -> int:
    """Evaluate the checklist of every active church not yet seen complete;
    returns how many are still short of it."""
    short = 0
    for tenant in Tenant.objects.filter(
        status=Tenant.Status.ACTIVE, onboarded_at__isnull=True
    ):
        try:
            with tenant_context(tenant):
                short += not checklist(tenant)["completed"]
        except TenantUnavailable:
            logger.warning("onboarding of %s not checked: unavailable", tenant.slug)
    return short
