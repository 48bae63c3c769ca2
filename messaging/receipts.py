"""Delivery receipts: a message's status only moves forward."""

from __future__ import annotations

import uuid

from django.utils import timezone

from messaging import counts
from messaging.models import Message
from messaging.optout import CARRIER_OPT_OUT, opt_out
from messaging.quota import PENDING, settle
from telemetry import metrics
from tenants.context import tenant_atomic

# A late `sent` never overwrites `delivered`.
RANK = {
    "queued": 0,
    "accepted": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
}


def _find(sid: str, message_id: str | None) -> Message | None:
    message = Message.objects.filter(provider_sid=sid).first()
    if message is None and message_id:
        # A receipt can beat our own write of the sid: our id came in the URL.
        try:
            key = uuid.UUID(message_id)
        except ValueError:
            return None
        message = Message.objects.filter(
            pk=key, direction=Message.Direction.OUTBOUND, provider_sid__isnull=True
        ).first()
        if message is not None:
            Message.objects.filter(pk=message.pk, provider_sid__isnull=True).update(
                provider_sid=sid
            )
    return message


def update_status(
    *, sid: str, status: str, error_code: str = "", message_id: str | None = None
) -> bool:
    """Apply a receipt if it moves the message forward; False if the sid is unknown."""
    message = _find(sid, message_id)
    if message is None:
        return False
    rank = RANK.get(status)
    if rank is None:
        return True
    metrics.sms.labels(status).inc()  # the provider's word: delivered, undelivered...
    lower = [name for name, value in RANK.items() if value < rank]
    changes: dict = {"status": status if status != "accepted" else "queued"}
    if error_code:
        changes["error_code"] = error_code[:16]
    if status == "delivered":
        changes["delivered_at"] = timezone.now()
    # Only a receipt that takes the row out of the outbox settles it ("sending"
    # leaves it there: our own send settles it).
    leaving = status not in PENDING
    pending = [name for name in lower if name in PENDING] if leaving else []
    with tenant_atomic():
        # A receipt can overtake our own record of the send: the row leaves
        # the outbox here, and its segments become used unless it failed.
        accepted = status != "failed"
        stamp = {"sent_at": timezone.now()} if accepted else {}
        rows = Message.objects.filter(pk=message.pk, sent_at__isnull=True)
        if pending and rows.filter(status__in=pending).update(**changes, **stamp):
            settle(message.segments, sent=accepted)
            if accepted:
                message.sent_at = stamp["sent_at"]
                counts.sent(message)
            counts.finished(message, status)
        elif Message.objects.filter(pk=message.pk, status__in=lower).update(**changes):
            counts.finished(message, status)
    if error_code == CARRIER_OPT_OUT:
        opt_out(
            phone=message.to_number,
            source="carrier",
            actor="carrier",
            detail=CARRIER_OPT_OUT,
        )
    return True
