"""The church's statistics: series and totals from the daily rollups
(`stats.models.DailyStat`), the dashboard's summary, and the rebuild of the
rollups from the messages, consent records and members.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from typing import Any

from django.db.models import Count, Min, Q

from billing.allowance import allowance_for
from members.models import ConsentRecord, Member
from messaging.counts import OUTCOMES, day_of
from messaging.models import Broadcast, Conversation, Message
from messaging.quota import reading
from stats.models import COUNTERS, NO_BRANCH, DailyStat
from stats.rollup import local_day
from tenants.context import require_tenant, tenant_atomic

SERIES = ("messages_sent", "segments", "delivered", "undelivered", "failed",
          "inbound", "replies", "opt_outs", "new_members")  # fmt: skip
MAX_DAYS = 400


def period_of(day: dt.date, granularity: str) -> dt.date:
    """The first day of `day`'s bucket: the day, its (ISO) week's Monday, or the
    first of its month."""
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def series(
    since: dt.date, until: dt.date, granularity: str, branch: uuid.UUID | None
) -> dict[str, Any]:
    """GET /api/stats: one row per bucket (empty ones too) and the totals."""
    rows = DailyStat.objects.filter(day__gte=since, day__lte=until)
    if branch is not None:
        rows = rows.filter(branch=branch)
    buckets: dict[dt.date, Counter[str]] = {}
    day = since
    while day <= until:
        buckets.setdefault(period_of(day, granularity), Counter())
        day += dt.timedelta(days=1)
    totals: Counter[str] = Counter()
    for row in rows.values("day", *COUNTERS):
        counts = {name: row[name] for name in COUNTERS}
        buckets[period_of(row["day"], granularity)].update(counts)
        totals.update(counts)
    answered = totals["delivered"] + totals["failed"] + totals["undelivered"]
    return {
        "series": [
            {"period": period, **{name: counts[name] for name in SERIES}}
            for period, counts in buckets.items()
        ],
        "totals": {
            **{name: totals[name] for name in SERIES},
            "delivery_rate": _rate(totals["delivered"], answered),
            "response_rate": _rate(totals["replies"], totals["broadcast_delivered"]),
        },
    }


def summary(user_id: uuid.UUID, *, billing: bool) -> dict[str, Any]:
    """GET /api/stats/summary (`billing` for owners and admins only)."""
    members = Member.objects.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(status=Member.Status.ACTIVE)),
        opted_out=Count("pk", filter=Q(opted_out=True)),
    )
    unread = Q(unread_count__gt=0)
    threads = Conversation.objects.aggregate(
        open=Count("pk", filter=Q(status=Conversation.Status.OPEN)),
        unread=Count("pk", filter=unread),
        mine_unread=Count("pk", filter=unread & Q(assignee_id=user_id)),
    )
    answer: dict[str, Any] = {
        "members": members,
        "conversations": threads,
        "last_broadcast": _last_broadcast(),
    }
    if billing:
        limits = allowance_for(require_tenant())
        answer["billing"] = {
            "used_segments": reading(limits).used,
            "included_segments": limits.included,
        }
    return answer


def _last_broadcast() -> dict[str, Any] | None:
    last = (
        Broadcast.objects.filter(status=Broadcast.Status.QUEUED)
        .order_by("-created_at")
        .first()
    )
    if last is None:
        return None
    failing = [Message.Status.FAILED, Message.Status.UNDELIVERED]
    counts = Message.objects.filter(broadcast=last).aggregate(
        sent_at=Min("sent_at"),
        delivered=Count("pk", filter=Q(status=Message.Status.DELIVERED)),
        failed=Count("pk", filter=Q(status__in=failing)),
        replies=Count("pk", filter=Q(answered_at__isnull=False)),
    )
    return {"id": last.pk, "recipients": last.recipient_count, **counts}


def rebuild() -> int:
    """Recompute the current church's rollups from what they count; the rows."""
    rows: defaultdict[tuple[dt.date, uuid.UUID], Counter[str]] = defaultdict(Counter)
    fields = ("direction", "status", "segments", "branch_id", "broadcast_id",
              "sent_at", "attempted_at", "created_at", "answered_at")  # fmt: skip
    for m in Message.objects.values_list(*fields, named=True).iterator(2000):
        branch = m.branch_id or NO_BRANCH
        if m.direction == Message.Direction.INBOUND:
            rows[local_day(m.created_at), branch]["inbound"] += 1
            continue
        if m.sent_at is not None:
            sent = rows[local_day(m.sent_at), branch]
            sent["messages_sent"] += 1
            sent["segments"] += m.segments
        outcome = rows[day_of(m), branch]
        if m.status in OUTCOMES:
            outcome[OUTCOMES[m.status]] += 1
            if m.status == Message.Status.DELIVERED and m.broadcast_id:
                outcome["broadcast_delivered"] += 1
        if m.answered_at is not None:
            outcome["replies"] += 1
    opt_outs = ConsentRecord.objects.filter(kind=ConsentRecord.Kind.REVOKED).exclude(
        source=ConsentRecord.Source.ERASURE
    )
    for at, branch in opt_outs.values_list("created_at", "branch_id"):
        rows[local_day(at), branch or NO_BRANCH]["opt_outs"] += 1
    for at, branch in Member.objects.values_list("created_at", "branch_id"):
        rows[local_day(at), branch or NO_BRANCH]["new_members"] += 1
    with tenant_atomic():
        DailyStat.objects.all().delete()
        DailyStat.objects.bulk_create(
            [
                DailyStat(day=day, branch=branch, **counts)
                for (day, branch), counts in rows.items()
                if any(counts.values())
            ],
            batch_size=2000,
        )
    return len(rows)


def totals_by_day() -> dict[tuple[dt.date, uuid.UUID], dict[str, int]]:
    """Every stored row's counters (for comparing live rollups with a rebuild)."""
    return {
        (row["day"], row["branch"]): {name: row[name] for name in COUNTERS}
        for row in DailyStat.objects.values("day", "branch", *COUNTERS)
        if any(row[name] for name in COUNTERS)
    }
