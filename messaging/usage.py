"""Sent messages and segments per church per day: what billing charges.

Usage is recomputed from the messages themselves (`sent_at`), never
incremented: a batch a crashed worker half-sent, or sent twice in a race, still
adds up exactly. Billing keeps a copy in the registry for operators: it
listens to `usage_recorded`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.dispatch import Signal

from messaging.models import DailyUsage, Message
from tenants.context import require_tenant, tenant_atomic

# Sent with tenant=, day=, messages=, segments= after a day's counters change.
usage_recorded = Signal()


def refresh_usage(*, day: dt.date) -> DailyUsage:
    """Set `day`'s counters from the messages sent that (UTC) day."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    totals = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        sent_at__gte=start,
        sent_at__lt=start + dt.timedelta(days=1),
    ).aggregate(messages=Count("id"), segments=Sum("segments"))
    values = {"messages": totals["messages"], "segments": totals["segments"] or 0}
    with tenant_atomic():
        usage, _ = DailyUsage.objects.update_or_create(date=day, defaults=values)
    usage_recorded.send(DailyUsage, tenant=require_tenant(), day=day, **values)
    return usage


def usage_by_day(
    start: dt.datetime, end: dt.datetime, zone: str
) -> list[dict[str, Any]]:
    """Sent messages and segments per day of the church's time zone in [start, end)."""
    rows = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, sent_at__gte=start, sent_at__lt=end
        )
        .annotate(day=TruncDate("sent_at", tzinfo=ZoneInfo(zone)))
        .values("day")
        .annotate(messages=Count("id"), segments=Sum("segments"))
        .order_by("day")
    )
    return [
        {"date": r["day"], "messages": r["messages"], "segments": r["segments"]}
        for r in rows
    ]
