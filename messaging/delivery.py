"""Delivery: each outbox row to the provider once, and only once.

A row is claimed with a conditional update before the provider is called, so a
retried task, a redelivered batch or a second worker never sends one row twice.
A row left in `sending` by a killed worker is checked with the provider before
it is sent again.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from church.numbers import numbers_of
from members.consent import may_text
from messaging import counts
from messaging.models import COMPLIANCE_KEY, Message
from messaging.optout import CARRIER_OPT_OUT, opt_out
from messaging.outbox import stale_after
from messaging.pacing import wait_for_slot
from messaging.quota import settle
from messaging.schedule import allowed_at
from messaging.usage import refresh_usage
from sms.backends import (
    OutboundSMS,
    PermanentError,
    SMSBackend,
    TransientError,
    get_backend,
)
from telemetry import metrics
from tenants.context import require_tenant, tenant_atomic
from tenants.models import Tenant


def _claim(message_id: uuid.UUID, now: dt.datetime) -> tuple[Message | None, bool]:
    """Take one row for sending: (row, whether a crashed attempt may have sent it).

    None if another worker has it or it is done.
    """
    fresh = Message.objects.filter(
        pk=message_id, status=Message.Status.QUEUED, send_after__lte=now
    ).update(
        status=Message.Status.SENDING, attempted_at=now, attempts=F("attempts") + 1
    )
    orphaned = 0
    if not fresh:
        orphaned = Message.objects.filter(
            pk=message_id,
            status=Message.Status.SENDING,
            attempted_at__lte=now - stale_after(),
        ).update(attempted_at=now, attempts=F("attempts") + 1)
    if not (fresh or orphaned):
        return None, False
    return Message.objects.select_related("member", "broadcast").get(
        pk=message_id
    ), bool(orphaned)


def _revisit_if_in_flight(message_id: uuid.UUID) -> None:
    """A row another worker holds may be orphaned by a crash: look again later."""
    attempted = (
        Message.objects.filter(pk=message_id, status=Message.Status.SENDING)
        .values_list("attempted_at", flat=True)
        .first()
    )
    if attempted is not None:
        Tenant.objects.wake(require_tenant().pk, attempted + stale_after())


def _outbound(message: Message) -> OutboundSMS:
    callback = None
    if settings.PUBLIC_BASE_URL:
        # Our id rides along: a receipt may arrive before we stored Twilio's sid.
        callback = (
            f"{settings.PUBLIC_BASE_URL.rstrip('/')}/api/webhooks/sms/status"
            f"?message={message.id}"
        )
    return OutboundSMS(
        to=message.to_number,
        from_=message.from_number,
        body=message.body,
        key=str(message.id),
        status_callback=callback,
    )


def send_messages(message_ids: list[uuid.UUID]) -> dict[str, int]:
    """Send each claimable row once; returns counts by outcome."""
    backend = get_backend()
    outcome = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0, "deferred": 0}
    started = timezone.now()
    # The church's numbers, read once per batch rather than once per message.
    default, by_branch = numbers_of(require_tenant())
    held = {number for number in (default, *by_branch.values()) if number}
    for message_id in message_ids:
        message, suspicious = _claim(message_id, timezone.now())
        if message is None:
            outcome["skipped"] += 1
            _revisit_if_in_flight(message_id)
            continue
        result = _send_one(backend, message, suspicious=suspicious, held=held)
        outcome[result] += 1
        metrics.sms.labels(result).inc()
    if outcome["sent"]:
        for day in {started.date(), timezone.now().date()}:  # a batch over midnight
            refresh_usage(day=day)
    return outcome


def _requeue(rows: QuerySet[Message], when: dt.datetime, **changes: object) -> None:
    rows.update(status=Message.Status.QUEUED, send_after=when, **changes)
    Tenant.objects.wake(require_tenant().pk, when)


def _finish(rows: QuerySet[Message], message: Message, **changes: object) -> None:
    """Move a row out of `sending`; its segments become used if it was sent."""
    status = changes["status"]
    with tenant_atomic():
        if rows.update(**changes):
            settle(message.segments, sent=status == Message.Status.SENT)
            if status == Message.Status.SENT:
                message.sent_at = changes["sent_at"]  # type: ignore[assignment]
                counts.sent(message)
            else:
                counts.finished(message, str(status))


def _send_one(
    backend: SMSBackend, message: Message, *, suspicious: bool, held: set[str]
) -> str:
    rows = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING)
    tenant = require_tenant()
    compliance = (message.idempotency_key or "").startswith(COMPLIANCE_KEY)
    if not compliance and not may_text(message.to_number, message.member):
        _finish(rows, message, status=Message.Status.CANCELED, error_code="opted_out")
        return "skipped"
    if message.from_number not in held:
        # The number went to another church: a reply to it would land there.
        _finish(
            rows, message, status=Message.Status.FAILED, error_code="number_released"
        )
        return "failed"
    if message.broadcast_id is not None:  # replies are exempt from quiet hours
        zone = tenant.timezone
        if message.member_id and message.member.branch_id:
            zone = message.member.branch.timezone
        opening = allowed_at(timezone.now(), zone, tenant.quiet_hours)
        if opening > timezone.now():
            _requeue(rows, opening)
            return "deferred"
    outbound = _outbound(message)
    if suspicious:
        # The attempt that crashed may have reached the provider: ask first.
        try:
            found = backend.find_sent(outbound, message.created_at)
        except TransientError:
            found = None
        if found is not None:
            _finish(
                rows,
                message,
                status=Message.Status.SENT,
                provider_sid=found.sid,
                sent_at=timezone.now(),
            )
            return "sent"
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        # Eager tasks run inside the request (the embedded default): no pacing.
        wait_for_slot(message.from_number)
    try:
        result = backend.send(outbound)
    except TransientError as exc:
        if message.attempts >= settings.SMS_MAX_ATTEMPTS:
            code = exc.code or "retries"
            _finish(rows, message, status=Message.Status.FAILED, error_code=code)
            return "failed"
        delay = exc.retry_after or min(600, 5 * 2**message.attempts)
        _requeue(
            rows, timezone.now() + dt.timedelta(seconds=delay), error_code=exc.code
        )
        return "retry"
    except PermanentError as exc:
        _finish(rows, message, status=Message.Status.FAILED, error_code=exc.code)
        if exc.code == CARRIER_OPT_OUT:
            opt_out(
                phone=message.to_number,
                source="carrier",
                actor="carrier",
                detail=CARRIER_OPT_OUT,
            )
        return "failed"
    _finish(
        rows,
        message,
        status=Message.Status.SENT,
        provider_sid=result.sid,
        sent_at=timezone.now(),
        error_code="",
    )
    return "sent"
