"""Registry records needed on every request, cached so that routing costs no SQL.

Tenant rows go to the shared cache without their server: a server row carries
its admin credential (encrypted, but it need not travel), and servers are few,
so each process keeps its own copy of them. On top, each process keeps a
tenant it just used for TENANT_RECORD_LOCAL_SECONDS: a busy church's requests
then cost no cache round trip either. A status change reaches this process at
once and the others within that time.
"""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache

from tenants.cache import REGISTRY_PREFIX
from tenants.models import DatabaseServer, Tenant

SERVER_SECONDS = 60.0

_servers: dict[int, tuple[float, DatabaseServer]] = {}
_servers_lock = threading.Lock()
_recent: dict[uuid.UUID, tuple[float, Tenant]] = {}  # read-only records, shared


def _key(tenant_id: uuid.UUID | str) -> str:
    return f"{REGISTRY_PREFIX}tenant:{tenant_id}"


def get_server(server_id: int) -> DatabaseServer:
    now = time.monotonic()
    entry = _servers.get(server_id)
    if entry is None or now - entry[0] > SERVER_SECONDS:
        server = DatabaseServer.objects.get(pk=server_id)
        with _servers_lock:
            _servers[server_id] = (now, server)
        return server
    return entry[1]


def get_tenant(tenant_id: uuid.UUID | str | None) -> Tenant | None:
    """The tenant with its server, from the cache or the registry."""
    try:
        tenant_id = uuid.UUID(str(tenant_id))
    except ValueError:
        return None
    now = time.monotonic()
    recent = _recent.get(tenant_id)
    if recent is not None and recent[0] > now:
        return recent[1]
    tenant: Tenant | None = cache.get(_key(tenant_id))
    if tenant is None:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            return None
        cache.set(_key(tenant_id), tenant, settings.TENANT_RECORD_CACHE_SECONDS)
    tenant.server = get_server(tenant.server_id)
    if len(_recent) > 10_000:  # a bound, not an LRU: rebuilt from the cache
        _recent.clear()
    _recent[tenant_id] = (now + settings.TENANT_RECORD_LOCAL_SECONDS, tenant)
    return tenant


def invalidate_tenant(tenant_id: uuid.UUID | str) -> None:
    """Call after any change to a tenant's row (status, server, settings)."""
    _recent.pop(uuid.UUID(str(tenant_id)), None)
    cache.delete(_key(tenant_id))
