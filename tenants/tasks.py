"""Celery: the TenantTask base class, and the registry's own tasks."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import transaction

from telemetry.context import bind
from tenants import ready_pool
from tenants.context import (
    NoTenantActive,
    TenantSwitchRefused,
    current_alias,
    current_tenant,
    require_tenant,
    tenant_context,
)
from tenants.lookup import get_tenant
from tenants.migrating import (
    current_fingerprint,
    ensure_template,
    migrate_tenant,
    tenants_to_migrate,
)
from tenants.models import DatabaseServer, Tenant
from tenants.provisioning import provision_tenant, reconcile_tenants

if TYPE_CHECKING:
    from celery.result import AsyncResult

logger = logging.getLogger(__name__)

HEADER = "tenant_id"


class TenantTask(DjangoTask):
    """A task that runs inside the tenant that dispatched it, and never without one.

    The tenant id travels in a message header, set in `apply_async` (signals do
    not fire for eager tasks), and `__call__` enters `tenant_context` with it.
    """

    abstract = True

    def apply_async(
        self, args: Any = None, kwargs: Any = None, **options: Any
    ) -> AsyncResult:
        headers = dict(options.pop("headers", None) or {})
        tenant = current_tenant()
        if tenant is not None:
            named = headers.setdefault(HEADER, str(tenant.id))
            if named != str(tenant.id):
                raise TenantSwitchRefused(
                    f"{self.name} sent from {tenant.slug} for another tenant."
                )
        if HEADER not in headers:
            raise NoTenantActive(
                f"{self.name} is a tenant task: send it inside a tenant."
            )
        return super().apply_async(args, kwargs, headers=headers, **options)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        # DjangoTask's version waits for the registry's transaction, not the tenant's.
        require_tenant()
        transaction.on_commit(
            partial(self.delay, *args, **kwargs), using=current_alias()
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        tenant_id = getattr(request, HEADER, None) or (request.headers or {}).get(
            HEADER
        )
        if tenant_id is None:
            raise NoTenantActive(f"{self.name} ran without a tenant; refused.")
        tenant = get_tenant(tenant_id)
        if tenant is None or tenant.status != Tenant.Status.ACTIVE:
            logger.warning("%s skipped: tenant %s is not active", self.name, tenant_id)
            return None
        bind(tenant_id=str(tenant.id))  # on this task's log lines
        with tenant_context(tenant):
            return super().__call__(*args, **kwargs)


@shared_task(name="tenants.tasks.provision_tenant_task")
def provision_tenant_task(**kwargs: Any) -> str:
    kwargs.pop("plan", None)  # queued before Tenant.plan went (migration 0009)
    return str(provision_tenant(**kwargs).id)


@shared_task(name="tenants.tasks.reconcile_tenants_task")
def reconcile_tenants_task() -> dict[str, Any]:
    return reconcile_tenants().__dict__


@shared_task(name="tenants.tasks.refill_ready_pool_task")
def refill_ready_pool_task(server_id: int | None = None) -> int:
    """Top up one server's ready pool (after a claim), or every server's (beat)."""
    return ready_pool.refill_all(server_id)


@shared_task(name="tenants.tasks.migrate_tenant_task", acks_late=True)
def migrate_tenant_task(tenant_id: str) -> dict[str, Any]:
    return migrate_tenant(tenant_id).__dict__


@shared_task(name="tenants.tasks.migrate_tenants_task")
def migrate_tenants_task(slugs: list[str] | None = None) -> int:
    """Migrate the templates here, then fan out one task per pending tenant."""
    for server in DatabaseServer.objects.filter(active=True):
        ensure_template(server)
    pending = tenants_to_migrate(slugs).exclude(
        migration_fingerprint=current_fingerprint()
    )
    ids = [str(pk) for pk in pending.values_list("pk", flat=True)]
    for tenant_id in ids:
        migrate_tenant_task.delay(tenant_id)
    return len(ids)
