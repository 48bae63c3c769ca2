"""Celery tasks for sending: per tenant (TenantTask), and the registry's sweep.

`dispatch_soon` is how anything asks for its tenant's due work to go out.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
import uuid

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from messaging.delivery import send_messages
from messaging.outbox import due_message_ids, next_due_after, stale_after
from messaging.recurring import next_run_after, run_due
from messaging.usage import refresh_usage
from tenants.context import require_tenant
from tenants.models import Tenant
from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)

# A day's usage is recounted from its messages; replies sent in the answer to a
# webhook (a survey's thank-yous, STOP and HELP) are recounted together, once
# this long after the first of them, not once each (a recount reads the day).
USAGE_RECOUNT_DELAY = 30
RECOUNT_MARGIN = 5
_recounts: dict[tuple[str, dt.date], float] = {}  # when this process asked one
_recounts_lock = threading.Lock()


def dispatch_soon(due: dt.datetime) -> None:
    """Record when this tenant next has work (the sweep's index); send now if due.

    The record comes first: if the immediate dispatch fails (broker down), the
    sweep still comes back for the rows once they count as stale.
    """
    tenant = require_tenant()
    now = timezone.now()
    Tenant.objects.wake(tenant.pk, due if due > now else now + stale_after())
    if due <= now:
        try:
            dispatch_due_task.delay()
        except Exception:  # the sweep will pick the rows up
            logger.exception("dispatching %s failed; left to the sweep", tenant.slug)


def recount_usage_soon(day: dt.date) -> None:
    """`day`'s usage recounted within `USAGE_RECOUNT_DELAY` seconds.

    A process asks at most once per delay and church and day; the recount
    runs after the delay, so it counts every reply this process sent before.
    """
    if recount_usage_task.app.conf.task_always_eager:
        refresh_usage(day=day)  # no worker: at once
        return
    key, now = (str(require_tenant().pk), day), time.monotonic()
    with _recounts_lock:
        if now - _recounts.get(key, -math.inf) < USAGE_RECOUNT_DELAY:
            return
        if len(_recounts) > 10_000:
            _recounts.clear()  # a church asks again at worst: a recount too many
        _recounts[key] = now
    try:
        # Later than the window by a margin: a worker whose clock runs a little
        # ahead still counts the window's last replies.
        recount_usage_task.apply_async(
            (day.isoformat(),), countdown=USAGE_RECOUNT_DELAY + RECOUNT_MARGIN
        )
    except Exception:  # the broker is down: recount here, now
        logger.exception("scheduling a usage recount failed; recounting now")
        refresh_usage(day=day)


@shared_task(base=TenantTask, name="messaging.tasks.recount_usage_task", acks_late=True)
def recount_usage_task(day: str) -> None:
    refresh_usage(day=dt.date.fromisoformat(day))


@shared_task(base=TenantTask, name="messaging.tasks.send_messages_task", acks_late=True)
def send_messages_task(message_ids: list[str]) -> dict[str, int]:
    outcome = send_messages([uuid.UUID(i) for i in message_ids])
    logger.info("batch of %d messages: %s", len(message_ids), outcome)
    return outcome


@shared_task(base=TenantTask, name="messaging.tasks.dispatch_due_task", acks_late=True)
def dispatch_due_task() -> int:
    """Run due recurring messages, queue due sends, note when more are due."""
    now = timezone.now()
    run_due(now)
    ids = [str(i) for i in due_message_ids(now)]
    size = settings.SMS_SEND_BATCH
    for start in range(0, len(ids), size):
        send_messages_task.delay(ids[start : start + size])
    upcoming = [t for t in (next_due_after(now), next_run_after(now)) if t]
    if ids:
        # A watchdog: if a worker dies holding a batch, the sweep comes back for
        # its rows once they count as stale (the broker may take far longer).
        upcoming.append(now + stale_after())
    Tenant.objects.settle(
        require_tenant().pk,
        min(upcoming) if upcoming else None,
        lease_ends=now + stale_after(),
    )
    return len(ids)


@shared_task(name="messaging.tasks.sweep_due_task")
def sweep_due_task() -> int:
    """Beat: wake every tenant with something due (each claim succeeds once)."""
    now = timezone.now()
    woken = Tenant.objects.lease_due(now, until=now + stale_after())
    for tenant_id in woken:
        dispatch_due_task.apply_async(headers={"tenant_id": str(tenant_id)})
    return len(woken)
