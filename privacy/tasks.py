"""Celery tasks of privacy: building a church's export, expiring old ones."""

from __future__ import annotations

import uuid

from celery import shared_task

from privacy.church_export import build_export, expire_exports
from tenants.tasks import TenantTask


@shared_task(base=TenantTask, name="privacy.tasks.build_export_task", acks_late=True)
def build_export_task(export_id: str) -> None:
    build_export(uuid.UUID(export_id))


@shared_task(name="privacy.tasks.expire_exports_task")
def expire_exports_task() -> int:
    return expire_exports()
