"""Recurring messages: each occurrence becomes one broadcast, exactly once."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from messaging.compose import Recipients, compose_broadcast
from messaging.errors import PaymentRequired, QuotaExceeded, SendRefused
from messaging.models import RecurringMessage, RecurringRun
from messaging.quota import check_sending
from messaging.schedule import next_occurrence
from templates_app.models import MessageTemplate
from tenants.context import require_tenant, tenant_atomic
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def compute_next(recurring: RecurringMessage, after: dt.datetime) -> dt.datetime:
    return next_occurrence(
        after,
        frequency=recurring.frequency,
        at=recurring.time,
        timezone=recurring.timezone,
        weekday=recurring.weekday,
        day=recurring.day,
    )


def save_recurring(
    recurring: RecurringMessage,
    *,
    body: str,
    template_id: uuid.UUID | None,
    recipients: Recipients,
    frequency: str,
    time: dt.time,
    weekday: int | None,
    day: int | None,
    timezone_name: str | None,
    active: bool,
) -> RecurringMessage:
    """Save a recurring message, its next run in step with its schedule and `active`."""
    recurring.body = "" if template_id else body
    recurring.template_id = template_id
    recurring.recipients = recipients.as_json()
    recurring.frequency = frequency
    recurring.time = time
    recurring.weekday = weekday
    recurring.day = day
    recurring.timezone = timezone_name or require_tenant().timezone
    if active and (recurring._state.adding or not recurring.active):
        check_sending()  # a new (or resumed) recurring send while billing refuses
    recurring.active = active
    recurring.next_run_at = (
        compute_next(recurring, timezone.now()) if recurring.active else None
    )
    with tenant_atomic():
        recurring.save()
    if recurring.next_run_at:
        Tenant.objects.wake(require_tenant().pk, recurring.next_run_at)
    return recurring


def run_due(now: dt.datetime) -> int:
    """Compose every occurrence that is due; two schedulers still compose each once.

    The broadcasts' rows are sent by the dispatch that called this.
    """
    sent = 0
    due = RecurringMessage.objects.filter(active=True, next_run_at__lte=now)
    for recurring in due:
        occurrence = recurring.next_run_at
        body = recurring.body or _template_body(recurring)
        if not body:
            # Its template was deleted: stop, rather than send empty texts.
            logger.warning("recurring %s paused: its template is gone", recurring.pk)
            RecurringMessage.objects.filter(pk=recurring.pk).update(
                active=False, next_run_at=None
            )
            continue
        spec = recurring.recipients or {}
        recipients = Recipients(
            members=spec.get("members", []),
            branches=spec.get("branches", []),
            tags=spec.get("tags", []),
            all=spec.get("all", False),
        ).known_only()
        try:
            with tenant_atomic():
                run = RecurringRun.objects.create(
                    recurring=recurring, scheduled_for=occurrence
                )
                RecurringMessage.objects.filter(pk=recurring.pk).update(
                    next_run_at=compute_next(recurring, max(now, occurrence)),
                    last_run_at=occurrence,
                )
                run.broadcast = compose_broadcast(
                    body=body,
                    recipients=recipients,
                    template_id=recurring.template_id,
                    created_by=recurring.created_by,
                    recurring_id=recurring.id,
                ).broadcast
                run.save(update_fields=["broadcast"])
        except IntegrityError:
            continue  # another scheduler took this occurrence
        except (QuotaExceeded, PaymentRequired) as exc:
            _skip(recurring, occurrence, now, f"skipped_{_REASON[exc.code]}")
            continue
        except SendRefused as exc:
            # No one to send to this time (all opted out...): skip the occurrence.
            logger.warning("recurring %s skipped: %s", recurring.pk, exc.fields)
            RecurringMessage.objects.filter(
                pk=recurring.pk, next_run_at=occurrence
            ).update(
                next_run_at=compute_next(recurring, max(now, occurrence)),
                last_run_at=occurrence,
            )
            continue
        sent += 1
    return sent


_REASON = {"quota_exceeded": "quota", "payment_required": "billing"}


def _skip(
    recurring: RecurringMessage, occurrence: dt.datetime, now: dt.datetime, why: str
) -> None:
    """Billing refused this occurrence: record it, never retry it, go to the next."""
    try:
        with tenant_atomic():
            RecurringRun.objects.create(
                recurring=recurring, scheduled_for=occurrence, outcome=why
            )
            RecurringMessage.objects.filter(pk=recurring.pk).update(
                next_run_at=compute_next(recurring, max(now, occurrence)),
                last_run_at=occurrence,
                skipped_count=F("skipped_count") + 1,
                last_skipped_at=now,
                last_skip_reason=why,
            )
    except IntegrityError:
        pass  # another scheduler took this occurrence
    logger.warning("recurring %s: occurrence %s %s", recurring.pk, occurrence, why)


def _template_body(recurring: RecurringMessage) -> str:
    template = MessageTemplate.objects.filter(pk=recurring.template_id).first()
    return template.body if template else ""


def next_run_after(now: dt.datetime) -> dt.datetime | None:
    return (
        RecurringMessage.objects.filter(active=True, next_run_at__gt=now)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )
