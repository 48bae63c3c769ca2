"""The church's segments against what billing allows: the meter and the one check.

Billing decides what a church may send; `settings.SENDING_ALLOWANCE` names the
function that says so (billing's), so that messaging, below billing, never
imports it. The meter lives in the church's database and changes in the same
transaction as the messages it counts: a broadcast's outbox rows and its
reservation commit together or not at all, and a row's segments move from
reserved to used (sent) or are released (failed, canceled) with its status.

`reserve` is the check: one per broadcast, recurring run or reply, for all of
its segments at once. It locks the meter row first, so concurrent broadcasts
of one church queue behind each other and each sees what the others took.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db.models import F, QuerySet, Sum
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.module_loading import import_string

from messaging.errors import PaymentRequired, QuotaExceeded
from messaging.models import Message, SegmentMeter
from telemetry import metrics
from tenants.context import require_tenant, tenant_atomic
from tenants.models import Tenant

PENDING = (Message.Status.QUEUED, Message.Status.SENDING)


@dataclass(frozen=True)
class Allowance:
    """What a church may send in its current billing period."""

    period_start: dt.datetime
    period_end: dt.datetime
    included: int
    overage: bool  # past `included`, sending goes on and is billed
    refusal: str | None = None  # why new sends are refused ("payment_required")


@dataclass(frozen=True)
class Reading:
    used: int
    reserved: int


@cache
def _policy() -> Callable[[Tenant], Allowance | None]:
    policy: Callable[[Tenant], Allowance | None] = import_string(
        settings.SENDING_ALLOWANCE
    )
    return policy


def allowance() -> Allowance | None:
    """The current tenant's allowance; None: no billing, nothing is limited."""
    if not settings.SENDING_ALLOWANCE:
        return None
    return _policy()(require_tenant())


def sent_segments(start: dt.datetime, end: dt.datetime | None = None) -> int:
    """Segments of outbound messages the provider accepted in [start, end)."""
    rows = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, sent_at__gte=start
    )
    if end is not None:
        rows = rows.filter(sent_at__lt=end)
    return rows.aggregate(n=Sum("segments"))["n"] or 0


def pending_segments() -> int:
    """Segments of outbound messages queued or sending: what is reserved."""
    return (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, status__in=PENDING
        ).aggregate(n=Sum("segments"))["n"]
        or 0
    )


def _locked(period_start: dt.datetime | None) -> SegmentMeter:
    """The meter row, locked until the caller's transaction ends, on `period_start`.

    The lock is an UPDATE, which takes the row on PostgreSQL and the database
    on SQLite alike. A new period counts its used segments again from the messages and
    recounts the reserved ones, which also mends any drift.
    """
    if not SegmentMeter.objects.filter(pk=1).update(updated_at=timezone.now()):
        SegmentMeter.objects.get_or_create(pk=1)
        SegmentMeter.objects.filter(pk=1).update(updated_at=timezone.now())
    meter = SegmentMeter.objects.get(pk=1)
    if period_start is not None and meter.period_start != period_start:
        meter.period_start = period_start
        meter.used = sent_segments(period_start)
        meter.reserved = pending_segments()
        meter.save()
    return meter


def reserve(
    segments: int, *, refusable: bool = True, limits: Allowance | None = None
) -> None:
    """Reserve `segments` for a send being written in the caller's transaction.

    Refusable sends (broadcasts, recurring runs) are refused when billing
    refuses sending (`PaymentRequired`) or they do not fit a hard quota
    (`QuotaExceeded`); replies and compliance texts never are, and count alike.
    `limits`: the allowance the caller already read (`check_sending`).
    """
    limits = limits or allowance()
    if refusable and limits is not None and limits.refusal:
        raise PaymentRequired()
    with tenant_atomic():
        meter = _locked(limits.period_start if limits else None)
        if refusable and limits is not None and not limits.overage:
            remaining = max(0, limits.included - meter.used - meter.reserved)
            if segments > remaining:
                metrics.quota_refusals.inc()
                raise QuotaExceeded(segments, remaining)
        SegmentMeter.objects.filter(pk=1).update(reserved=F("reserved") + segments)


def check_sending() -> Allowance | None:
    """Refuse new refusable work while billing refuses sending; the allowance."""
    limits = allowance()
    if limits is not None and limits.refusal:
        raise PaymentRequired()
    return limits


def settle(segments: int, *, sent: bool) -> None:
    """A row left the outbox: its segments become used (sent) or are released."""
    SegmentMeter.objects.filter(pk=1).update(
        reserved=Greatest(F("reserved") - segments, 0),
        used=F("used") + (segments if sent else 0),
    )


def release_queued(rows: QuerySet[Message], **changes: str) -> int:
    """Cancel the queued ones of `rows` and release their segments; how many.

    The rows are locked before they are summed, so a dispatch claiming one at
    the same moment either gets it (and it is not released here) or does not.
    """
    with tenant_atomic():
        queued = rows.filter(status=Message.Status.QUEUED)
        taken = list(queued.select_for_update().values_list("pk", "segments"))
        canceled = Message.objects.filter(
            pk__in=[pk for pk, _ in taken], status=Message.Status.QUEUED
        ).update(status=Message.Status.CANCELED, **changes)
        if taken:
            settle(sum(segments for _, segments in taken), sent=False)
    return canceled


def count_sent(segments: int) -> None:
    """A text that went out without waiting in the outbox (a compliance reply)."""
    if not SegmentMeter.objects.filter(pk=1).update(used=F("used") + segments):
        SegmentMeter.objects.get_or_create(pk=1, defaults={"used": segments})


def reading(limits: Allowance | None) -> Reading:
    """Used and reserved in the period of `limits` (the meter, never the messages)."""
    meter = SegmentMeter.objects.filter(pk=1).first()
    if meter is None or (limits and meter.period_start != limits.period_start):
        with tenant_atomic():
            meter = _locked(limits.period_start if limits else None)
    return Reading(used=meter.used, reserved=meter.reserved)


def recount() -> Reading:
    """Set the meter from the messages (for a check, or after a repair)."""
    limits = allowance()
    with tenant_atomic():
        meter = _locked(None)
        meter.reserved = pending_segments()
        if limits is not None:
            meter.period_start = limits.period_start
            meter.used = sent_segments(limits.period_start)
        meter.save()
    return Reading(used=meter.used, reserved=meter.reserved)
