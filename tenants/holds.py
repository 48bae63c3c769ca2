"""Tenants and servers this process holds as down, and serving a request in a tenant.

A church whose database fails makes the first request wait for the failure;
then that church's requests answer 503 at once until the hold expires, when
one request is let through to try again: a circuit breaker, the same class
that guards Redis. Which breaker depends on what failed. A server that also
fails its own check (its maintenance database, and the pooler's port when one
fronts it) is held with every church on it; a church whose own database fails
while its server answers (its role locked, its database missing, its pool
exhausted) is held alone, and its neighbours are served. Holds belong to one
process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import DatabaseError, InterfaceError, connections
from psycopg_pool import PoolTimeout

from api.errors import DomainError, ServiceUnavailable
from tenants.breaker import CircuitBreaker
from tenants.connections import failed_in_this_thread
from tenants.context import current_tenant, tenant_context
from tenants.errors import TenantUnavailable
from tenants.servers import backend_for

if TYPE_CHECKING:
    from tenants.models import Tenant

HOLD_SECONDS = 10.0

# Keyed ("server", id) or ("tenant", id).
_breakers: dict[tuple[str, object], CircuitBreaker] = {}
_lock = threading.Lock()


def _breaker(key: tuple[str, object]) -> CircuitBreaker:
    breaker = _breakers.get(key)
    if breaker is None:
        with _lock:
            breaker = _breakers.setdefault(
                key, CircuitBreaker(threshold=1, cooldown=HOLD_SECONDS)
            )
    return breaker


def _hold(key: tuple[str, object], seconds: float | None) -> None:
    breaker = _breaker(key)
    breaker.cooldown = HOLD_SECONDS if seconds is None else seconds
    breaker.record_failure()


def _held(key: tuple[str, object]) -> bool:
    breaker = _breakers.get(key)
    return breaker is not None and not breaker.allow()


def _release(key: tuple[str, object]) -> None:
    breaker = _breakers.get(key)
    if breaker is not None:
        breaker.record_success()


def hold(server_id: int, seconds: float | None = None) -> None:
    """Refuse the server's tenants for `seconds`, then let one request probe."""
    _hold(("server", server_id), seconds)


def is_held(server_id: int) -> bool:
    """Whether to refuse now; after the hold, one caller is let through to probe."""
    return _held(("server", server_id))


def release(server_id: int) -> None:
    _release(("server", server_id))


def hold_tenant(tenant_id: object, seconds: float | None = None) -> None:
    """Refuse this one tenant for `seconds`; its server keeps serving the others."""
    _hold(("tenant", tenant_id), seconds)


def tenant_is_held(tenant_id: object) -> bool:
    return _held(("tenant", tenant_id))


def release_tenant(tenant_id: object) -> None:
    _release(("tenant", tenant_id))


@dataclass
class Visit:
    """How a block served by `serving` went; a failure keeps the hold."""

    ok: bool = True


@contextmanager
def serving(tenant: Tenant) -> Iterator[Visit]:
    """Serve one request or webhook inside `tenant`, refused while its server is held.

    The one way an HTTP request enters its tenant (the token middleware's
    requests and the provider webhooks alike). A block that ends without an
    exception and with `visit.ok` lifts the holds.
    """
    if is_held(tenant.server_id) or tenant_is_held(tenant.id):
        raise TenantUnavailable()
    visit = Visit()
    with tenant_context(tenant):
        yield visit
    if visit.ok:
        release(tenant.server_id)
        release_tenant(tenant.id)


# SQLSTATE classes of a server that is gone or going (not of a failed query).
_UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def unavailable(exc: DatabaseError | InterfaceError) -> DomainError:
    """What a lost connection means to the caller.

    If it was the tenant's database that stopped answering, the tenant is held
    (`tenant_unavailable`), with its whole server when the server fails its own
    check too; otherwise (the registry, a deadlock, a statement
    timeout) the service is briefly unavailable and nothing is held.
    `tenant_context` tags an error that left its block with the tenant.
    """
    tenant = current_tenant() or getattr(exc, "tenant", None)
    if tenant is not None and _pool_exhausted(exc):
        # The pooler waited its query_wait_timeout for a server connection of
        # this church's pool: busy, not gone. Its server serves the others.
        return TenantUnavailable()
    # Read before the check below reconnects (which clears it).
    lost_own = tenant is not None and _lost_own_connection(tenant, exc)
    if tenant is not None and not _reachable(tenant, exc):
        if _server_answers(tenant):
            hold_tenant(tenant.id)
        else:
            hold(tenant.server_id)
        return TenantUnavailable()
    if lost_own:
        # Its own connection broke and a new one works (a server or pooler
        # coming back): still this church's database, nothing to hold.
        return TenantUnavailable()
    return ServiceUnavailable()


def _lost_own_connection(tenant: Tenant, exc: DatabaseError | InterfaceError) -> bool:
    """The tenant's own connection failed as a lost connection does (no
    SQLSTATE: the socket broke; or a connection-class one), not as a query."""
    sqlstate = getattr(exc.__cause__, "sqlstate", "") or ""
    return failed_in_this_thread(tenant.alias) and (
        not sqlstate or sqlstate.startswith(_UNREACHABLE_SQLSTATES)
    )


def _pool_exhausted(exc: DatabaseError | InterfaceError) -> bool:
    return "query_wait_timeout" in str(exc.__cause__ or exc)


def _reachable(tenant: Tenant, exc: DatabaseError | InterfaceError) -> bool:
    """Whether the tenant's own database answers (the error may be another's).

    When the tenant's own connection failed to connect (no connection could be
    had, or the server is gone), trying again would only wait out another
    connect timeout; any other error is checked with a new connection.
    """
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", "") or ""
    if failed_in_this_thread(tenant.alias) and (
        isinstance(cause, PoolTimeout) or sqlstate.startswith(_UNREACHABLE_SQLSTATES)
    ):
        return False
    try:
        with tenant_context(tenant):
            wrapper = connections[tenant.alias]
            if not wrapper.in_atomic_block:
                wrapper.close()  # the kept connection may be the broken one
            wrapper.ensure_connection()
            return wrapper.is_usable()
    except Exception:
        return False


def _server_answers(tenant: Tenant) -> bool:
    """The server-level check: the server (and its pooler) accept connections."""
    try:
        backend_for(tenant.server).ping()
    except Exception:  # ServerUnavailable, or the registry row unreadable
        return False
    return True
