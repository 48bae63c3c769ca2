"""The current tenant: one ContextVar and one door into it, `tenant_context()`.

Middleware, Celery tasks, management commands and tests all enter a tenant the
same way. Code that touches a tenant model outside a context fails (see
router.py); nothing ever falls back to the registry database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction

from tenants import connections
from tenants.servers import database_settings

if TYPE_CHECKING:
    from tenants.models import Tenant

_current: ContextVar[Tenant | None] = ContextVar("current_tenant", default=None)


class NoTenantActive(RuntimeError):
    """A tenant model was used with no tenant context active."""


class TenantSwitchRefused(RuntimeError):
    """A context for one tenant was opened inside another tenant's context."""


def current_tenant() -> Tenant | None:
    return _current.get()


def current_alias() -> str | None:
    tenant = _current.get()
    return None if tenant is None else tenant.alias


def require_tenant() -> Tenant:
    tenant = _current.get()
    if tenant is None:
        raise NoTenantActive("This needs a tenant: wrap it in tenant_context().")
    return tenant


@contextmanager
def tenant_context(tenant: Tenant, *, direct: bool = False) -> Iterator[Tenant]:
    """Route tenant models to `tenant`'s database for the duration of the block.

    `direct` connects past the server's pooler, for work a transaction-mode
    pooler must not carry (migrations); it applies when the block registers the
    tenant's alias, so callers use it on tenants this process is not serving
    and forget the alias afterwards.
    """
    active = _current.get()
    if active is not None:
        if active.id != tenant.id:
            raise TenantSwitchRefused(
                f"Already in tenant {active.slug}; refusing to enter {tenant.slug}."
            )
        yield active
        return
    alias = connections.acquire(
        tenant.alias, lambda: database_settings(tenant, direct=direct)
    )
    token = _current.set(tenant)
    try:
        yield tenant
    except DatabaseError as exc:
        # Error handlers run after this block: they still need to know whose
        # database failed (503 tenant_unavailable, not a generic 503).
        if not hasattr(exc, "tenant"):
            exc.tenant = tenant  # type: ignore[attr-defined]
        raise
    finally:
        _current.reset(token)
        connections.release(alias)


def tenant_atomic(**kwargs: bool) -> transaction.Atomic:
    """`atomic()` on the current tenant's database (a bare one is the registry's)."""
    return transaction.atomic(using=require_tenant().alias, **kwargs)


def on_tenant_commit(func: Callable[[], object]) -> None:
    """Run `func` after the current tenant transaction commits."""
    transaction.on_commit(func, using=require_tenant().alias)
