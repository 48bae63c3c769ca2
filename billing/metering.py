"""Overage reported to Stripe's meter exactly once, through a ledger.

For each church on an overage plan, each finished day of its period (UTC,
cut at the period's edges) gets one `MeterReport` row: the segments of that
day above what the period includes. The row is written before Stripe is
called, with an identifier made from the church, the period and the day, so
a retry after a crash sends the same identifier and Stripe drops the second
copy; the row is marked sent only once Stripe accepted it. When Stripe cannot
be reached the row waits with a growing delay (`next_attempt_at`); operators
see rows that keep failing in the console.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import stripe
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.allowance import credited
from billing.models import MeterReport, Subscription
from billing.stripe_backend import client
from messaging.usage import usage_by_day
from tenants.context import tenant_context

logger = logging.getLogger(__name__)
# A day is reported this long after it ended: sends in flight have settled.
SETTLE = dt.timedelta(minutes=5)


def _days(
    start: dt.datetime, end: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """[start, end) cut at each UTC midnight."""
    cursor = start
    while cursor < end:
        next_day = cursor.astimezone(dt.UTC).date() + dt.timedelta(days=1)
        midnight = dt.datetime.combine(next_day, dt.time.min, dt.UTC)
        yield cursor, min(midnight, end)
        cursor = min(midnight, end)


def record_reports(sub: Subscription, now: dt.datetime) -> int:
    """Ledger rows for the finished days of `sub`'s current and last periods
    not yet recorded; how many were written."""
    plan = sub.plan
    if plan.overage_unit_amount is None or not plan.stripe_meter_event_name:
        return 0
    periods = [(sub.period_start, sub.period_end)]
    if sub.last_period_start and sub.last_period_end:
        periods.append((sub.last_period_start, sub.last_period_end))
    written = 0
    with tenant_context(sub.tenant):
        for start, end in periods:
            written += _record_period(sub, start, min(end, now), now)
    return written


def _record_period(
    sub: Subscription, period_start: dt.datetime, until: dt.datetime, now: dt.datetime
) -> int:
    """Each finished day reports the period's overage so far minus what was
    reported already: a credit or an upgrade mid-period lowers what follows,
    never what Stripe has."""
    included = sub.plan.included_segments + credited(sub, period_start)
    reported = dict(
        MeterReport.objects.filter(
            tenant_id=sub.tenant_id, period_start=period_start
        ).values_list("day", "value")
    )
    # One query for the period: segments sent per UTC day, edges cut by it.
    sent = {
        row["date"]: row["segments"] for row in usage_by_day(period_start, until, "UTC")
    }
    written, used, billed = 0, 0, 0
    for start, end in _days(period_start, until):
        if end + SETTLE > now:
            break
        used += sent.get(start.date(), 0)
        if start.date() in reported:
            billed += reported[start.date()]
            continue
        over = max(0, max(0, used - included) - billed)
        if not over:
            continue
        stamp = f"{period_start:%Y%m%dT%H%M%S}-{start:%Y%m%d}"
        try:
            with transaction.atomic():
                MeterReport.objects.create(
                    tenant_id=sub.tenant_id, period_start=period_start,
                    day=start.date(), value=over,
                    identifier=f"ct-{sub.tenant_id.hex}-{stamp}",
                    event_name=sub.plan.stripe_meter_event_name,
                    customer=sub.stripe_customer_id,
                    timestamp=end - dt.timedelta(seconds=1),
                )  # fmt: skip
        except IntegrityError:
            break  # another worker is recording this period: it goes on from here
        billed += over
        written += 1
    return written


def send_reports(now: dt.datetime) -> dict[str, int]:
    """Send every pending report that is due; Stripe drops a repeated identifier."""
    counts = {"sent": 0, "failed": 0}
    due = MeterReport.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        sent_at__isnull=True,
    )
    for report in due.order_by("timestamp"):
        try:
            client().v1.billing.meter_events.create(
                params={
                    "event_name": report.event_name,
                    "identifier": report.identifier,
                    "timestamp": int(report.timestamp.timestamp()),
                    "payload": {
                        "stripe_customer_id": report.customer,
                        "value": str(report.value),
                    },
                }
            )
        except stripe.StripeError as exc:
            if _already_there(exc):
                MeterReport.objects.filter(pk=report.pk).update(sent_at=timezone.now())
                counts["sent"] += 1
                continue
            attempts = report.attempts + 1
            delay = dt.timedelta(seconds=min(3600, 30 * 2**attempts))
            MeterReport.objects.filter(pk=report.pk).update(
                attempts=attempts,
                last_error=str(exc)[:300],
                next_attempt_at=now + delay,
            )
            counts["failed"] += 1
            logger.warning("meter report %s not sent: %s", report.identifier, exc)
            continue
        MeterReport.objects.filter(pk=report.pk).update(sent_at=timezone.now())
        counts["sent"] += 1
    return counts


def _already_there(exc: stripe.StripeError) -> bool:
    """Stripe refusing an identifier it has seen: the first copy counted."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) if error is not None else None
    return code == "resource_already_exists"


def report_usage(now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: record the finished days of every metered church, then send."""
    now = now or timezone.now()
    recorded = 0
    metered = (
        Subscription.objects.exclude(stripe_customer_id="")
        .filter(plan__overage_unit_amount__isnull=False)
        .select_related("plan", "tenant")
    )
    for sub in metered:
        try:
            recorded += record_reports(sub, now)
        except Exception:
            logger.exception("recording the meter reports of %s failed", sub.tenant_id)
    return {"recorded": recorded, **send_reports(now)}
