"""Celery: sync runs and webhook events in their church; the beat's dispatcher."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from integrations import runs
from integrations.connection import next_night
from integrations.models import PlanningCenterConnection, SyncRun, WebhookEvent
from integrations.webhooks import apply_event
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.tasks import TenantTask


@shared_task(  # type: ignore[untyped-decorator]
    base=TenantTask, name="integrations.tasks.sync_task", acks_late=True
)
def sync_task(run_id: str) -> str | None:
    run = runs.sync(run_id)
    return run.status if run else None


@shared_task(  # type: ignore[untyped-decorator]
    base=TenantTask, name="integrations.tasks.webhook_task", acks_late=True
)
def webhook_task(name: str, person_id: str) -> int:
    return apply_event(name, person_id)


def start_sync(tenant: Tenant, trigger: str) -> SyncRun:
    """Start (or find) `tenant`'s run and hand it to a worker."""
    run, new = runs.start(tenant, trigger)
    if new:
        with tenant_context(tenant):
            sync_task.delay(str(run.pk))
    return run


@shared_task(name="integrations.tasks.due_syncs_task")  # type: ignore[untyped-decorator]
def due_syncs_task() -> int:
    """Nightly syncs that are due, and runs whose worker stopped (resumed)."""
    now = timezone.now()
    started = 0
    due = PlanningCenterConnection.objects.filter(
        next_sync_at__lte=now, tenant__status=Tenant.Status.ACTIVE
    ).select_related("tenant")
    for connection in due:
        PlanningCenterConnection.objects.filter(pk=connection.pk).update(
            next_sync_at=next_night(connection.tenant, now)
        )
        start_sync(connection.tenant, SyncRun.Trigger.NIGHTLY)
        started += 1
    grace = dt.timedelta(seconds=settings.PLANNING_CENTER_LEASE_SECONDS)
    stalled = SyncRun.objects.filter(
        status=SyncRun.Status.RUNNING,
        lease_until__lt=now - grace,
        tenant__status=Tenant.Status.ACTIVE,
    ).select_related("tenant")
    for run in stalled:
        with tenant_context(run.tenant):
            sync_task.delay(str(run.pk))
        started += 1
    # Planning Center redelivers for a few days at most: older ids can go.
    WebhookEvent.objects.filter(received_at__lt=now - dt.timedelta(days=30)).delete()
    return started
