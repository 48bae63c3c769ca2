"""Nightly backups: every active church, then retention."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from backups.dumping import backup_tenant, expired, remove_backups
from tenants.models import Tenant

logger = logging.getLogger(__name__)


@shared_task(name="backups.tasks.backup_tenant_task", acks_late=True)
def backup_tenant_task(tenant_id: str) -> str:
    tenant = Tenant.objects.get(pk=tenant_id)
    backup = backup_tenant(tenant)
    remove_backups(expired(tenant, timezone.now()))
    return str(backup.pk)


@shared_task(name="backups.tasks.nightly_backups_task")
def nightly_backups_task() -> int:
    """One task per active church, so that workers share the night's work."""
    ids = list(
        Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("pk", flat=True)
    )
    for tenant_id in ids:
        backup_tenant_task.delay(str(tenant_id))
    return len(ids)
