"""Broadcasts as the staff sends them: now or at a time, and canceled before it."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from messaging.compose import Recipients, compose_broadcast
from messaging.errors import NotCancelable
from messaging.models import Broadcast, Message
from messaging.quota import release_queued
from messaging.tasks import dispatch_soon
from tenants.context import on_tenant_commit, tenant_atomic


def send_broadcast(
    *,
    body: str,
    recipients: Recipients,
    scheduled_at: dt.datetime | None = None,
    template_id: uuid.UUID | None = None,
    created_by: uuid.UUID | None = None,
) -> Broadcast:
    """Compose a broadcast (`compose_broadcast`); sending starts after commit."""
    composed = compose_broadcast(
        body=body,
        recipients=recipients,
        scheduled_at=scheduled_at,
        template_id=template_id,
        created_by=created_by,
    )
    on_tenant_commit(lambda: dispatch_soon(composed.first_due))
    return composed.broadcast


def cancel_broadcast(broadcast: Broadcast) -> Broadcast:
    """Stop a scheduled broadcast before its time: its messages are canceled."""
    with tenant_atomic():
        canceled = Broadcast.objects.filter(
            pk=broadcast.pk,
            status=Broadcast.Status.SCHEDULED,
            scheduled_at__gt=timezone.now(),
        ).update(status=Broadcast.Status.CANCELED)
        if not canceled:
            raise NotCancelable()
        release_queued(Message.objects.filter(broadcast=broadcast))
    return Broadcast.objects.get(pk=broadcast.pk)
