"""Registry records needed on every request, cached so that routing costs no SQL."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.cache import cache

from tenants.cache import REGISTRY_PREFIX
from tenants.models import Tenant


def _key(tenant_id: uuid.UUID | str) -> str:
    return f"{REGISTRY_PREFIX}tenant:{tenant_id}"


def get_tenant(tenant_id: uuid.UUID | str) -> Tenant | None:
    """The tenant with its server, from the cache or the registry."""
    try:
        tenant_id = uuid.UUID(str(tenant_id))
    except ValueError:
        return None
    tenant = cache.get(_key(tenant_id))
    if tenant is None:
        tenant = Tenant.objects.select_related("server").filter(pk=tenant_id).first()
        if tenant is not None:
            cache.set(_key(tenant_id), tenant, settings.TENANT_RECORD_CACHE_SECONDS)
    return tenant


def invalidate_tenant(tenant_id: uuid.UUID | str) -> None:
    """Call after any change to a tenant's row (status, server, settings)."""
    cache.delete(_key(tenant_id))
