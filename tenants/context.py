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
_alias: ContextVar[str | None] = ContextVar("current_alias", default=None)


class NoTenantActive(RuntimeError):
    """A tenant model was used with no tenant context active."""


class TenantSwitchRefused(RuntimeError):
    """A context for one tenant was opened inside another tenant's context."""


def current_tenant() -> Tenant | None:
    return _current.get()


def current_alias() -> str | None:
    """The alias the current context routes to (the tenant's, or its direct one)."""
    return _alias.get()


def direct_alias(tenant: Tenant) -> str:
    """The alias of `tenant`'s database reached past any pooler."""
    return f"{tenant.alias}_direct"


def require_tenant() -> Tenant:
    tenant = _current.get()
    if tenant is None:
        raise NoTenantActive("This needs a tenant: wrap it in tenant_context().")
    return tenant


def tenant_country(_serializer: object = None) -> str:
    """The current church's country: the region its members' numbers are read in."""
    return require_tenant().country


@contextmanager
def tenant_context(tenant: Tenant, *, direct: bool = False) -> Iterator[Tenant]:
    """Route tenant models to `tenant`'s database for the duration of the block.

    `direct` connects past the server's pooler, for work a transaction-mode
    pooler must not carry (migrations), under an alias of its own
    (`direct_alias`), so the two never share a registration; callers forget it
    when done. A block nested in the same tenant's context keeps the outer one.
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
        direct_alias(tenant) if direct else tenant.alias,
        lambda: database_settings(tenant, direct=direct),
    )
    token, alias_token = _current.set(tenant), _alias.set(alias)
    try:
        yield tenant
    except DatabaseError as exc:
        # Error handlers run after this block: they still need to know whose
        # database failed (503 tenant_unavailable, not a generic 503).
        if not hasattr(exc, "tenant"):
            exc.tenant = tenant  # type: ignore[attr-defined]
        raise
    finally:
        _alias.reset(alias_token)
        _current.reset(token)
        connections.release(alias)


def tenant_atomic(**kwargs: bool) -> transaction.Atomic:
    """`atomic()` on the current tenant's database (a bare one is the registry's)."""
    require_tenant()
    return transaction.atomic(using=current_alias(), **kwargs)


def on_tenant_commit(func: Callable[[], object]) -> None:
    """Run `func` after the current tenant transaction commits."""
    require_tenant()
    transaction.on_commit(func, using=current_alias())
