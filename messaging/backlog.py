"""Provider webhooks kept while their church cannot take them, replayed in order.

While a church is in `maintenance` (a restore or move), or its database is
held down, an inbound message or a delivery receipt is written to the
registry (`tenants.PendingWebhook`, once per provider id) and answered as
received. When the church answers again (its next webhook, the periodic
task, the end of a restore) the kept ones are applied oldest first, with STOP
handling; a compliance reply that the provider could not be given in its
answer then is sent as a message.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import QuerySet

from messaging.inbound import receive
from messaging.receipts import update_status
from tenants.context import require_tenant
from tenants.holds import serving
from tenants.models import PendingWebhook, Tenant

logger = logging.getLogger(__name__)

INBOUND, STATUS = "inbound", "status"
BATCH = 500


def keep(tenant: Tenant, kind: str, payload: dict[str, Any]) -> None:
    """Keep one webhook for later (a second delivery of it is kept once)."""
    key = f"{kind}:{payload['sid']}"
    if kind == STATUS:
        key += f":{payload['status']}"
    try:
        with transaction.atomic():
            PendingWebhook.objects.create(
                tenant=tenant, kind=kind, key=key[:100], payload=payload
            )
    except IntegrityError:
        pass  # delivered twice: kept already


def _waiting(tenant: Tenant) -> QuerySet[PendingWebhook]:
    return PendingWebhook.objects.filter(tenant=tenant, error="")


def has_pending(tenant: Tenant) -> bool:
    return _waiting(tenant).exists()


def replay() -> int:
    """Apply the current church's kept webhooks, oldest first; how many.

    Each is removed once applied. The church being unreachable again stops
    the replay with the rest kept (the error goes to the caller); any other
    failure is the webhook's own: it is set aside with its error, for an
    operator, and the others go on.
    """
    tenant = require_tenant()
    done = 0
    while batch := list(_waiting(tenant).order_by("id")[:BATCH]):
        for pending in batch:
            try:
                _apply(pending)
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:
                logger.exception("kept webhook %s set aside", pending.key)
                PendingWebhook.objects.filter(pk=pending.pk).update(
                    error=f"{type(exc).__name__}: {exc}"[:2000]
                )
                continue
            pending.delete()
            done += 1
    return done


def _apply(pending: PendingWebhook) -> None:
    data = pending.payload
    if pending.kind == INBOUND:
        receive(
            sid=data["sid"], from_=data["from_"], to=data["to"], body=data["body"],
            answer_later=True,
        )  # fmt: skip
    else:
        update_status(
            sid=data["sid"], status=data["status"], error_code=data["error_code"],
            message_id=data.get("message_id"),
        )  # fmt: skip


def replay_for(tenant: Tenant) -> int:
    """Enter `tenant` and replay what is kept for it; a failure is logged and
    left to the next round (the beat task, or its next webhook)."""
    try:
        with serving(Tenant.objects.select_related("server").get(pk=tenant.pk)):
            return replay()
    except Exception:
        logger.warning("replaying kept webhooks of %s failed", tenant.pk, exc_info=True)
        return 0


@shared_task(name="messaging.backlog.replay_kept_webhooks_task")
def replay_kept_webhooks_task() -> int:
    """Beat: replay what is kept for churches that can take it again."""
    waiting = (
        PendingWebhook.objects.filter(
            tenant__status__in=[Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED],
            error="",
        )
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    done = 0
    for tenant in Tenant.objects.select_related("server").filter(pk__in=list(waiting)):
        try:
            with serving(tenant):
                done += replay()
        except Exception:  # still unreachable: the next round tries again
            logger.warning(
                "replaying kept webhooks of %s failed", tenant.pk, exc_info=True
            )
    return done
