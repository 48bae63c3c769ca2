"""A church's deletion: `deleting` with a grace period, restorable, then purged.

`start_deletion` refuses the church at once (its tokens answer 401, its sends
stop, its webhooks find no church) and sets `purge_after`; until then
`restore_deleted` brings it back as it was. `purge_due` (the reconciler, and a
beat task) then drops the database and its role and leaves a tombstone: the
row without its name, kept for billing records, its slug free again.

Other apps act through the signals below (accounts revokes the church's
sessions, billing cancels the subscription, church frees its numbers at the
purge, privacy deletes exports), so this layer knows none of them. A
receiver's failure fails the step, which is retried: every step is safe to
run twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from tenants import connections
from tenants.context import direct_alias
from tenants.lookup import invalidate_tenant
from tenants.models import PendingWebhook, PrivacyEvent, RetiredDatabase, Tenant
from tenants.servers import backend_for
from tenants.services import InvalidTransition

logger = logging.getLogger(__name__)

# Sent with `tenant` and `by` (who asked) once the church is `deleting`.
tenant_deleting = Signal()
# Sent with `tenant` when an operator restores it within the grace period.
tenant_restored = Signal()
# Sent with `tenant` before its tombstone is written: remove what it owns.
tenant_purging = Signal()

DELETABLE = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


def start_deletion(tenant: Tenant, *, by: str) -> Tenant:
    """Put the church in `deleting` until `TENANT_DELETE_GRACE_DAYS` from now."""
    now = timezone.now()
    purge_after = now + timedelta(days=settings.TENANT_DELETE_GRACE_DAYS)
    moved = Tenant.objects.filter(pk=tenant.pk, status__in=DELETABLE).update(
        status=Tenant.Status.DELETING, purge_after=purge_after, updated_at=now
    )
    tenant.refresh_from_db()
    if not moved:
        raise InvalidTransition(
            f"{tenant.slug} is {tenant.status}; it cannot be deleted."
        )
    invalidate_tenant(tenant.pk)
    logger.info(
        "tenant %s deleting (by %s), purged after %s", tenant.pk, by, purge_after
    )
    tenant_deleting.send(sender=Tenant, tenant=tenant, by=by)
    return tenant


def restore_deleted(tenant: Tenant) -> Tenant:
    """Bring a `deleting` church back (before its purge), active as before."""
    now = timezone.now()
    moved = Tenant.objects.filter(
        pk=tenant.pk, status=Tenant.Status.DELETING, purge_after__gt=now
    ).update(status=Tenant.Status.ACTIVE, purge_after=None, updated_at=now)
    tenant.refresh_from_db()
    if not moved:
        raise InvalidTransition(
            f"{tenant.slug} is {tenant.status}; only a church in its deletion grace "
            "period can be restored."
        )
    invalidate_tenant(tenant.pk)
    Tenant.objects.wake(tenant.pk, now)  # its sends and recurring resume
    tenant_restored.send(sender=Tenant, tenant=tenant)
    return tenant


def purge(tenant: Tenant) -> None:
    """Remove a `deleting` church past its `purge_after` for good (idempotent)."""
    tenant = Tenant.objects.select_related("server").get(pk=tenant.pk)
    if tenant.status != Tenant.Status.DELETING or (
        tenant.purge_after and tenant.purge_after > timezone.now()
    ):
        raise InvalidTransition(f"{tenant.slug} is not due for purging.")
    connections.forget(tenant.alias)
    connections.forget(direct_alias(tenant))
    # Copies kept by a restore or a move first: they belong to its role.
    for kept in RetiredDatabase.objects.select_related("server").filter(tenant=tenant):
        backend_for(kept.server).drop_database(name=kept.name, user=kept.role)
        kept.delete()
    backend_for(tenant.server).drop_database(
        name=tenant.database_name, user=tenant.database_user
    )
    tenant_purging.send(sender=Tenant, tenant=tenant)
    with transaction.atomic():
        PrivacyEvent.objects.filter(tenant=tenant).delete()
        PendingWebhook.objects.filter(tenant=tenant).delete()
        Tenant.objects.filter(pk=tenant.pk).update(
            status=Tenant.Status.DELETED,
            name="",
            slug=tenant.id.hex,
            phone_number=None,
            help_text="",
            database_password="",
            pepper="",
            next_send_at=None,
            updated_at=timezone.now(),
        )
    invalidate_tenant(tenant.pk)


def purge_due(now: datetime | None = None) -> tuple[list[str], list[str]]:
    """Purge every church past its grace period: (purged slugs, errors)."""
    now = now or timezone.now()
    purged, errors = [], []
    due = Tenant.objects.filter(status=Tenant.Status.DELETING, purge_after__lte=now)
    for tenant in due.select_related("server"):
        try:
            purge(tenant)
            purged.append(tenant.slug)
        except Exception as exc:
            logger.exception("purging %s failed", tenant.slug)
            errors.append(f"{tenant.slug}: {exc}")
    return purged, errors
