"""Sent segments per tenant per day (what billing charges), and a registry rollup.

Usage is recomputed from the messages themselves (`sent_at`), never
incremented: a batch a crashed worker half-sent, or sent twice in a race, still
adds up exactly.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Sum

from billing.models import DailyUsage
from tenants.context import require_tenant, tenant_atomic
from tenants.models import UsageRollup


def refresh_usage(*, day: dt.date) -> DailyUsage:
    """Set `day`'s counters from the messages sent that (UTC) day."""
    from messaging.models import Message

    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    totals = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        sent_at__gte=start,
        sent_at__lt=start + dt.timedelta(days=1),
    ).aggregate(messages=Count("id"), segments=Sum("segments"))
    values = {"messages": totals["messages"], "segments": totals["segments"] or 0}
    with tenant_atomic():
        usage, _ = DailyUsage.objects.update_or_create(date=day, defaults=values)
    with transaction.atomic():
        UsageRollup.objects.update_or_create(
            tenant=require_tenant(), date=day, defaults=values
        )
    return usage
