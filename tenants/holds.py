"""Database servers this process holds as down, and serving a request in its tenant.

A stopped server makes the first request wait for a connection timeout; then
every request for any tenant on that server answers 503 at once until the hold
expires, when one request is let through to try again: a circuit breaker per
server, the same class that guards Redis. Tenants on other servers are not
affected. Holds belong to one process.
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

if TYPE_CHECKING:
    from tenants.models import Tenant

HOLD_SECONDS = 10.0

_breakers: dict[int, CircuitBreaker] = {}
_lock = threading.Lock()


def _breaker(server_id: int) -> CircuitBreaker:
    breaker = _breakers.get(server_id)
    if breaker is None:
        with _lock:
            breaker = _breakers.setdefault(
                server_id, CircuitBreaker(threshold=1, cooldown=HOLD_SECONDS)
            )
    return breaker


def hold(server_id: int, seconds: float | None = None) -> None:
    """Refuse the server's tenants for `seconds`, then let one request probe."""
    breaker = _breaker(server_id)
    breaker.cooldown = HOLD_SECONDS if seconds is None else seconds
    breaker.record_failure()


def is_held(server_id: int) -> bool:
    """Whether to refuse now; after the hold, one caller is let through to probe."""
    breaker = _breakers.get(server_id)
    return breaker is not None and not breaker.allow()


def release(server_id: int) -> None:
    breaker = _breakers.get(server_id)
    if breaker is not None:
        breaker.record_success()


@dataclass
class Visit:
    """How a block served by `serving` went; a failure keeps the hold."""

    ok: bool = True


@contextmanager
def serving(tenant: Tenant) -> Iterator[Visit]:
    """Serve one request or webhook inside `tenant`, refused while its server is held.

    The one way an HTTP request enters its tenant (the token middleware's
    requests and the provider webhooks alike). A block that ends without an
    exception and with `visit.ok` lifts the hold.
    """
    if is_held(tenant.server_id):
        raise TenantUnavailable()
    visit = Visit()
    with tenant_context(tenant):
        yield visit
    if visit.ok:
        release(tenant.server_id)


# SQLSTATE classes of a server that is gone or going (not of a failed query).
_UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def unavailable(exc: DatabaseError | InterfaceError) -> DomainError:
    """What a lost connection means to the caller.

    If it was the tenant's database that stopped answering, its server is held
    (`tenant_unavailable`); otherwise (the registry, a deadlock, a statement
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
