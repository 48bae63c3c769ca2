"""Celery tasks for sending: per tenant (TenantTask) and the registry's sweep."""

from __future__ import annotations

import uuid

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tenants.tasks import TenantTask


@shared_task(base=TenantTask, name="messaging.tasks.send_messages_task", acks_late=True)
def send_messages_task(message_ids: list[str]) -> dict[str, int]:
    from messaging.sending import send_messages

    return send_messages([uuid.UUID(i) for i in message_ids])


@shared_task(base=TenantTask, name="messaging.tasks.dispatch_due_task", acks_late=True)
def dispatch_due_task() -> int:
    """Run due recurring messages, queue due sends, note when more are due."""
    from messaging.recurring import next_run_after, run_due
    from messaging.sending import due_message_ids, next_due_after, stale_after
    from tenants.context import require_tenant
    from tenants.models import Tenant

    now = timezone.now()
    run_due(now)
    ids = [str(i) for i in due_message_ids(now)]
    size = settings.SMS_SEND_BATCH
    for start in range(0, len(ids), size):
        send_messages_task.delay(ids[start : start + size])
    upcoming = [t for t in (next_due_after(now), next_run_after(now)) if t]
    tenant = Tenant.objects.filter(pk=require_tenant().pk)
    if not upcoming and not ids:
        tenant.update(next_send_at=None)  # nothing left: end the sweep's lease
    if ids:
        # A watchdog: if a worker dies holding a batch, the sweep comes back for
        # its rows once they count as stale (the broker may take far longer).
        upcoming.append(now + stale_after())
    if upcoming:
        soonest = min(upcoming)
        # Replace the sweep's lease (or anything later); keep an earlier time a
        # concurrent send recorded meanwhile.
        tenant.filter(
            Q(next_send_at__isnull=True)
            | Q(next_send_at__gt=soonest)
            | Q(next_send_at__lte=now + stale_after())
        ).update(next_send_at=soonest)
    return len(ids)


@shared_task(name="messaging.tasks.sweep_due_task")
def sweep_due_task() -> int:
    """Beat: wake every tenant with something due (each claim succeeds once)."""
    from messaging.sending import stale_after
    from tenants.models import Tenant

    now = timezone.now()
    woken = 0
    due = Tenant.objects.filter(status=Tenant.Status.ACTIVE, next_send_at__lte=now)
    for tenant_id in due.values_list("id", flat=True):
        # A lease, not a clear: if this dispatch is lost, the sweep comes back.
        if Tenant.objects.filter(pk=tenant_id, next_send_at__lte=now).update(
            next_send_at=now + stale_after()
        ):
            dispatch_due_task.apply_async(headers={"tenant_id": str(tenant_id)})
            woken += 1
    return woken
