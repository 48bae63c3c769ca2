"""Operations on existing tenants: suspend, resume, look up by slug."""

from __future__ import annotations

from django.utils import timezone

from tenants.lookup import invalidate_tenant
from tenants.models import Tenant


class TenantNotFound(Exception):
    pass


class InvalidTransition(Exception):
    pass


def get_by_slug(slug: str) -> Tenant:
    tenant = (
        Tenant.objects.select_related("server")
        .exclude(status=Tenant.Status.FAILED)
        .filter(slug=slug)
        .first()
    )
    if tenant is None:
        raise TenantNotFound(f"No tenant with slug {slug!r}.")
    return tenant


def _move(tenant: Tenant, source: str, target: str) -> Tenant:
    updated = Tenant.objects.filter(pk=tenant.pk, status=source).update(
        status=target, updated_at=timezone.now()
    )
    tenant.refresh_from_db()
    if not updated:
        raise InvalidTransition(
            f"{tenant.slug} is {tenant.status}; only a {source} tenant "
            f"can become {target}."
        )
    invalidate_tenant(tenant.pk)
    return tenant


def suspend_tenant(*, tenant: Tenant) -> Tenant:
    """Refuse the tenant's tokens (403 tenant_suspended) until resumed."""
    return _move(tenant, Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


def resume_tenant(*, tenant: Tenant) -> Tenant:
    resumed = _move(tenant, Tenant.Status.SUSPENDED, Tenant.Status.ACTIVE)
    # Work skipped while suspended (sends, recurring) is due now.
    Tenant.objects.wake(tenant.pk, timezone.now())
    return resumed
