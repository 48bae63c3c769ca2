"""Composing a broadcast: recipients resolved, bodies rendered, outbox rows written.

Nothing is sent here: the rows wait in the outbox (`messaging.outbox`) until a
dispatch claims them. Opted-out and inactive members are counted and skipped.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from django.db.models import Q
from django.utils import timezone

from branches.models import Branch
from church.numbers import numbers_of
from members.consent import opted_out
from members.models import Member
from messaging.errors import EmptyBody, NoRecipients, NumberMissing, UnknownRecipients
from messaging.models import Broadcast, Message
from messaging.outbox import write_outbox
from messaging.quota import check_sending, reserve
from messaging.schedule import allowed_at
from templates_app.services import render_for
from tenants.context import require_tenant, tenant_atomic


@dataclass
class Recipients:
    members: list[uuid.UUID] = field(default_factory=list)
    branches: list[uuid.UUID] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    all: bool = False

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["members"] = [str(m) for m in self.members]
        data["branches"] = [str(b) for b in self.branches]
        return data

    def known_only(self) -> Recipients:
        """The same recipients without ids that no longer exist (recurring runs)."""
        return Recipients(
            members=list(
                Member.objects.filter(pk__in=self.members).values_list("pk", flat=True)
            ),
            branches=list(
                Branch.objects.filter(pk__in=self.branches).values_list("pk", flat=True)
            ),
            tags=self.tags,
            all=self.all,
        )


def resolve(recipients: Recipients) -> tuple[list[Member], int, int]:
    """Members to message, and how many were skipped as opted out or inactive."""
    if recipients.all:
        chosen = Member.objects.all()
    else:
        chosen = Member.objects.filter(
            Q(id__in=recipients.members)
            | Q(branch_id__in=recipients.branches)
            | Q(tag_links__name__in=recipients.tags)
        ).distinct()
    refused = opted_out()
    skipped_opted_out = chosen.filter(refused).count()
    skipped_inactive = (
        chosen.exclude(refused).filter(status=Member.Status.INACTIVE).count()
    )
    eligible = list(
        chosen.exclude(refused)
        .filter(status=Member.Status.ACTIVE)
        .select_related("branch")
        .order_by("id")
    )
    return eligible, skipped_opted_out, skipped_inactive


def _check_ids_exist(recipients: Recipients) -> None:
    """Unknown (or another tenant's) member and branch ids are a clear 400."""
    missing: dict[str, list[str]] = {}
    for name, model, ids in (
        ("members", Member, recipients.members),
        ("branches", Branch, recipients.branches),
    ):
        found = {
            str(pk)
            for pk in model.objects.filter(pk__in=ids).values_list("pk", flat=True)
        }
        if unknown := sorted({str(i) for i in ids} - found):
            missing[name] = unknown
    if missing:
        raise UnknownRecipients(missing)


class Composed(NamedTuple):
    broadcast: Broadcast
    first_due: dt.datetime  # when its first message may go
    skipped: int  # eligible members left out as `skip_members`


def compose_broadcast(
    *,
    body: str,
    recipients: Recipients,
    scheduled_at: dt.datetime | None = None,
    template_id: uuid.UUID | None = None,
    created_by: uuid.UUID | None = None,
    recurring_id: uuid.UUID | None = None,
    skip_members: frozenset[uuid.UUID] = frozenset(),
) -> Composed:
    """Write the broadcast and its outbox rows.

    Each row is keyed "<broadcast>:<member>" and waits until `scheduled_at` or
    the quiet-hours opening in its recipient's time zone.
    """
    tenant = require_tenant()
    limits = check_sending()  # a church that must pay first hears that first
    _check_ids_exist(recipients)
    eligible, skipped_opted_out, skipped_inactive = resolve(recipients)
    members = [m for m in eligible if m.pk not in skip_members]  # e.g. surveyed lately
    if not members:
        raise NoRecipients()
    if not body.strip():
        raise EmptyBody()
    default_number, branch_numbers = numbers_of(tenant)
    numberless = [
        m for m in members if not (branch_numbers.get(m.branch_id) or default_number)
    ]
    if numberless:
        raise NumberMissing(len(numberless))
    start = scheduled_at or timezone.now()
    broadcast = Broadcast(
        body=body,
        template_id=template_id,
        recipients=recipients.as_json(),
        status=Broadcast.Status.SCHEDULED if scheduled_at else Broadcast.Status.QUEUED,
        scheduled_at=scheduled_at,
        created_by=created_by,
        recurring_id=recurring_id,
        opted_out_skipped=skipped_opted_out,
        inactive_skipped=skipped_inactive,
    )
    now = timezone.now()
    opening: dict[str, dt.datetime] = {}  # per time zone: members share a few
    rows = []
    for member in members:
        text, info = render_for(body, member)
        zone = member.branch.timezone if member.branch_id else tenant.timezone
        if zone not in opening:
            opening[zone] = allowed_at(start, zone, tenant.quiet_hours)
        rows.append(
            {
                "direction": Message.Direction.OUTBOUND,
                "status": Message.Status.QUEUED,
                "body": text,
                "segments": info.segments,
                "encoding": info.encoding,
                "member_id": member.pk,
                "branch_id": member.branch_id,
                "broadcast_id": broadcast.pk,
                "to_number": member.phone,
                "from_number": branch_numbers.get(member.branch_id)
                or default_number
                or "",
                "idempotency_key": f"{broadcast.pk}:{member.pk}",
                "send_after": opening[zone],
                "created_at": now,
            }
        )
    broadcast.recipient_count = len(rows)
    broadcast.segments = sum(row["segments"] for row in rows)
    with tenant_atomic():
        reserve(broadcast.segments, limits=limits)  # first: a refusal writes nothing
        broadcast.save(force_insert=True)
        write_outbox(rows)
    return Composed(broadcast, min(opening.values()), len(eligible) - len(members))
