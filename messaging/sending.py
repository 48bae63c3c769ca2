"""Broadcasts: from recipients to one outbox row per person, then to the provider.

The outbox row is written before any provider call, keyed by (broadcast,
member); sending claims a row with a conditional update, so a retried task, a
redelivered batch or a second worker never sends one row twice. A row left in
`sending` by a killed worker is checked with the provider before it is sent
again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from billing.usage import refresh_usage
from members.models import Member
from messaging.backends import OutboundSMS, PermanentError, TransientError, get_backend
from messaging.models import Broadcast, Message, Suppression
from messaging.optout import CARRIER_OPT_OUT, opt_out
from messaging.outbox import write_outbox
from messaging.ratelimit import wait_for_slot
from messaging.schedule import allowed_at
from templates_app.services import render_for
from tenants.context import on_tenant_commit, require_tenant, tenant_atomic
from tenants.numbers import numbers_of

logger = logging.getLogger(__name__)


@dataclass
class Recipients:
    members: list[uuid.UUID] = field(default_factory=list)
    branches: list[uuid.UUID] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    all: bool = False

    def as_json(self) -> dict:
        return {
            "members": [str(m) for m in self.members],
            "branches": [str(b) for b in self.branches],
            "tags": self.tags,
            "all": self.all,
        }


def suppressed_phones():
    return Suppression.objects.values("phone")


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
    opted_out = Q(opted_out=True) | Q(phone__in=suppressed_phones())
    skipped_opted_out = chosen.filter(opted_out).count()
    skipped_inactive = (
        chosen.exclude(opted_out).filter(status=Member.Status.INACTIVE).count()
    )
    eligible = list(
        chosen.exclude(opted_out)
        .filter(status=Member.Status.ACTIVE)
        .select_related("branch")
        .order_by("id")
    )
    return eligible, skipped_opted_out, skipped_inactive


def known_only(recipients: Recipients) -> Recipients:
    """The same recipients without ids that no longer exist (for recurring runs)."""
    from branches.models import Branch

    return Recipients(
        members=list(
            Member.objects.filter(pk__in=recipients.members).values_list(
                "pk", flat=True
            )
        ),
        branches=list(
            Branch.objects.filter(pk__in=recipients.branches).values_list(
                "pk", flat=True
            )
        ),
        tags=recipients.tags,
        all=recipients.all,
    )


def check_ids_exist(recipients: Recipients) -> None:
    """Unknown (or another tenant's) member and branch ids are a clear 400."""
    from branches.models import Branch

    errors = {}
    for name, model, ids in (
        ("members", Member, recipients.members),
        ("branches", Branch, recipients.branches),
    ):
        found = {
            str(pk)
            for pk in model.objects.filter(pk__in=ids).values_list("pk", flat=True)
        }
        missing = sorted({str(i) for i in ids} - found)
        if missing:
            errors[f"recipients.{name}"] = [f"Unknown id(s): {', '.join(missing)}."]
    if errors:
        raise ValidationError(errors)


def create_broadcast(
    *,
    body: str,
    recipients: Recipients,
    scheduled_at: dt.datetime | None = None,
    template_id: uuid.UUID | None = None,
    created_by: uuid.UUID | None = None,
    recurring_id: uuid.UUID | None = None,
) -> Broadcast:
    """Write the broadcast and its outbox rows; sending starts after commit."""
    tenant = require_tenant()
    check_ids_exist(recipients)
    members, skipped_opted_out, skipped_inactive = resolve(recipients)
    if not members:
        raise ValidationError(
            {
                "recipients": [
                    "No one to send to: every recipient is opted out, "
                    "inactive, or none were named."
                ]
            }
        )
    if not body.strip():
        raise ValidationError({"body": ["The message is empty."]})
    default_number, branch_numbers = numbers_of(tenant)
    numberless = [
        m for m in members if not (branch_numbers.get(m.branch_id) or default_number)
    ]
    if numberless:
        raise ValidationError(
            {
                "recipients": [
                    f"{len(numberless)} recipient(s) have no sending number: "
                    "give the church (/api/tenant) or their branch one."
                ]
            }
        )
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
        broadcast.save(force_insert=True)
        write_outbox(rows)
        first_due = min(opening.values())
        on_tenant_commit(lambda: schedule_dispatch(first_due))
    return broadcast


def schedule_dispatch(due: dt.datetime) -> None:
    """Record when this tenant next has work (the sweep's index); send now if due.

    The record comes first: if the immediate dispatch fails (broker down), the
    sweep still comes back for the rows once they count as stale.
    """
    from messaging.tasks import dispatch_due_task
    from tenants.models import Tenant

    tenant = require_tenant()
    now = timezone.now()
    remember = due if due > now else now + stale_after()
    Tenant.objects.filter(pk=tenant.pk).filter(
        Q(next_send_at__isnull=True) | Q(next_send_at__gt=remember)
    ).update(next_send_at=remember)
    if due <= now:
        try:
            dispatch_due_task.delay()
        except Exception:  # the sweep will pick the rows up
            logger.exception("dispatching %s failed; left to the sweep", tenant.slug)


def stale_after() -> dt.timedelta:
    """How long a row may sit in `sending` before a crash is presumed."""
    return dt.timedelta(seconds=settings.SMS_STALE_SENDING_SECONDS)


def due_message_ids(now: dt.datetime, limit: int = 10_000) -> list[uuid.UUID]:
    stale = now - stale_after()
    return list(
        Message.objects.filter(
            Q(status=Message.Status.QUEUED, send_after__lte=now)
            | Q(status=Message.Status.SENDING, attempted_at__lte=stale),
            direction=Message.Direction.OUTBOUND,
        )
        .order_by("send_after")
        .values_list("id", flat=True)[:limit]
    )


def next_due_after(now: dt.datetime) -> dt.datetime | None:
    return (
        Message.objects.filter(status=Message.Status.QUEUED, send_after__gt=now)
        .order_by("send_after")
        .values_list("send_after", flat=True)
        .first()
    )


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
        schedule_dispatch(attempted + stale_after())


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
    # The church's numbers, read once per batch rather than once per message.
    default, by_branch = numbers_of(require_tenant())
    held = {number for number in (default, *by_branch.values()) if number}
    for message_id in message_ids:
        message, suspicious = _claim(message_id, timezone.now())
        if message is None:
            outcome["skipped"] += 1
            _revisit_if_in_flight(message_id)
            continue
        outcome[_send_one(backend, message, suspicious=suspicious, held=held)] += 1
    if outcome["sent"]:
        refresh_usage(day=timezone.now().date())
    return outcome


def _requeue(rows, when: dt.datetime, **changes: object) -> None:
    rows.update(status=Message.Status.QUEUED, send_after=when, **changes)
    schedule_dispatch(when)


def _send_one(backend, message: Message, *, suspicious: bool, held: set[str]) -> str:
    rows = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING)
    tenant = require_tenant()
    if Suppression.objects.filter(phone=message.to_number).exists() or (
        message.member_id and message.member.opted_out
    ):
        rows.update(status=Message.Status.CANCELED, error_code="opted_out")
        return "skipped"
    if message.from_number not in held:
        # The number went to another church: a reply to it would land there.
        rows.update(status=Message.Status.FAILED, error_code="number_released")
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
            rows.update(
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
            rows.update(status=Message.Status.FAILED, error_code=exc.code or "retries")
            return "failed"
        delay = exc.retry_after or min(600, 5 * 2**message.attempts)
        _requeue(
            rows, timezone.now() + dt.timedelta(seconds=delay), error_code=exc.code
        )
        return "retry"
    except PermanentError as exc:
        rows.update(status=Message.Status.FAILED, error_code=exc.code)
        if exc.code == CARRIER_OPT_OUT:
            opt_out(phone=message.to_number, source="carrier_21610")
        return "failed"
    rows.update(
        status=Message.Status.SENT,
        provider_sid=result.sid,
        sent_at=timezone.now(),
        error_code="",
    )
    return "sent"


def cancel_broadcast(broadcast: Broadcast) -> Broadcast:
    """Stop a scheduled broadcast before its time: its messages are canceled."""
    from config.errors import Conflict

    with tenant_atomic():
        canceled = Broadcast.objects.filter(
            pk=broadcast.pk,
            status=Broadcast.Status.SCHEDULED,
            scheduled_at__gt=timezone.now(),
        ).update(status=Broadcast.Status.CANCELED)
        if not canceled:
            raise Conflict(
                "Only a broadcast still waiting for its time can be canceled."
            )
        Message.objects.filter(
            broadcast=broadcast, status=Message.Status.QUEUED
        ).update(status=Message.Status.CANCELED)
    return Broadcast.objects.get(pk=broadcast.pk)
