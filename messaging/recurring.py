"""Recurring messages: each occurrence becomes one broadcast, exactly once."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from messaging.models import RecurringMessage, RecurringRun
from messaging.schedule import next_occurrence
from tenants.context import tenant_atomic

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


def merged_for_patch(current: dict, changes: dict) -> dict:
    """A PATCH body completed with the current values (body and template exclude
    each other: setting one clears the other)."""
    merged = {**current, **changes}
    if changes.get("body") and "template" not in changes:
        merged["template"] = None
    if changes.get("template") and "body" not in changes:
        merged["body"] = ""
    return merged


def apply_validated(recurring: RecurringMessage, clean: dict) -> RecurringMessage:
    """Copy validated fields (RecurringSerializer) onto the row and save it."""
    from messaging.sending import Recipients
    from tenants.context import require_tenant

    schedule = clean["schedule"]
    template = clean.get("template")
    recurring.body = "" if template else clean["body"]
    recurring.template_id = template.pk if template else None
    recurring.recipients = Recipients(**clean["recipients"]).as_json()
    recurring.frequency = schedule["frequency"]
    recurring.time = schedule["time"]
    recurring.weekday = schedule.get("weekday")
    recurring.day = schedule.get("day")
    recurring.timezone = schedule.get("timezone") or require_tenant().timezone
    recurring.active = clean["active"]
    return save_recurring(recurring)


def save_recurring(recurring: RecurringMessage) -> RecurringMessage:
    """Save, keeping `next_run_at` in step with the schedule and `active`."""
    from messaging.sending import schedule_dispatch

    recurring.next_run_at = (
        compute_next(recurring, timezone.now()) if recurring.active else None
    )
    with tenant_atomic():
        recurring.save()
    if recurring.next_run_at:
        schedule_dispatch(recurring.next_run_at)
    return recurring


def run_due(now: dt.datetime) -> int:
    """Send every occurrence that is due; two schedulers still send each once."""
    from messaging.sending import Recipients, create_broadcast, known_only

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
        recipients = known_only(
            Recipients(
                members=spec.get("members", []),
                branches=spec.get("branches", []),
                tags=spec.get("tags", []),
                all=spec.get("all", False),
            )
        )
        try:
            with tenant_atomic():
                run = RecurringRun.objects.create(
                    recurring=recurring, scheduled_for=occurrence
                )
                RecurringMessage.objects.filter(pk=recurring.pk).update(
                    next_run_at=compute_next(recurring, max(now, occurrence)),
                    last_run_at=occurrence,
                )
                run.broadcast = create_broadcast(
                    body=body,
                    recipients=recipients,
                    template_id=recurring.template_id,
                    created_by=recurring.created_by,
                    recurring_id=recurring.id,
                )
                run.save(update_fields=["broadcast"])
        except IntegrityError:
            continue  # another scheduler took this occurrence
        except ValidationError as exc:
            # No one to send to this time (all opted out...): skip the occurrence.
            logger.warning("recurring %s skipped: %s", recurring.pk, exc.detail)
            RecurringMessage.objects.filter(
                pk=recurring.pk, next_run_at=occurrence
            ).update(
                next_run_at=compute_next(recurring, max(now, occurrence)),
                last_run_at=occurrence,
            )
            continue
        sent += 1
    return sent


def _template_body(recurring: RecurringMessage) -> str:
    from templates_app.models import MessageTemplate

    template = MessageTemplate.objects.filter(pk=recurring.template_id).first()
    return template.body if template else ""


def next_run_after(now: dt.datetime) -> dt.datetime | None:
    return (
        RecurringMessage.objects.filter(active=True, next_run_at__gt=now)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )
