"""Migration state of tenant databases: the fingerprint, the template, one tenant."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db import connections as django_connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from tenants import connections
from tenants.context import direct_alias, tenant_context
from tenants.models import DatabaseServer, Tenant
from tenants.router import is_tenant_app
from tenants.servers import backend_for

if TYPE_CHECKING:
    from django.db.models import QuerySet

logger = logging.getLogger(__name__)

_fingerprints: dict[str, tuple[str, frozenset[tuple[str, str]]]] = {}


def _graph_key() -> str:
    return repr(
        (
            sorted(getattr(settings, "MIGRATION_MODULES", {}).items()),
            list(settings.TENANT_APPS),
        )
    )


def tenant_migration_nodes() -> frozenset[tuple[str, str]]:
    return _fingerprint_entry()[1]


def current_fingerprint() -> str:
    """A hash of every tenant-app migration on disk; it changes when one is added."""
    return _fingerprint_entry()[0]


def _fingerprint_entry() -> tuple[str, frozenset[tuple[str, str]]]:
    key = _graph_key()
    entry = _fingerprints.get(key)
    if entry is None:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        nodes = frozenset(n for n in loader.graph.nodes if is_tenant_app(n[0]))
        digest = hashlib.sha256(
            "\n".join(f"{app}.{name}" for app, name in sorted(nodes)).encode()
        ).hexdigest()
        entry = _fingerprints[key] = (digest, nodes)
    return entry


def is_current(alias: str) -> bool:
    """Whether every tenant migration is applied on `alias` (one cheap query)."""
    applied = MigrationRecorder(django_connections[alias]).applied_migrations()
    return tenant_migration_nodes() <= applied.keys()


def migrate_alias(alias: str) -> None:
    call_command("migrate", database=alias, verbosity=0, interactive=False)


@contextmanager
def temporary_alias(alias: str, config: dict[str, Any]) -> Iterator[str]:
    """Register a database outside any tenant (the template) for one block."""
    connections.forget(alias)
    connections.acquire(alias, lambda: config)
    try:
        yield alias
    finally:
        connections.release(alias)
        connections.forget(alias)


def template_alias(server: DatabaseServer) -> str:
    return f"template_{server.pk}"


def ensure_template(server: DatabaseServer) -> bool:
    """Bring the server's template to the current fingerprint; False if unusable."""
    fingerprint = current_fingerprint()
    if server.template_fingerprint == fingerprint:
        return True
    backend = backend_for(server)
    try:
        with transaction.atomic():
            # The row lock makes concurrent provisionings wait for one rebuild.
            locked = DatabaseServer.objects.select_for_update().get(pk=server.pk)
            if locked.template_fingerprint != fingerprint:
                backend.open_template()
                try:
                    with temporary_alias(
                        template_alias(server), backend.template_settings()
                    ) as alias:
                        migrate_alias(alias)
                finally:
                    backend.close_template()
                DatabaseServer.objects.filter(pk=server.pk).update(
                    template_fingerprint=fingerprint
                )
    except Exception:
        logger.exception("template on %s could not be brought up to date", server)
        DatabaseServer.objects.filter(pk=server.pk).update(template_fingerprint="")
        server.template_fingerprint = ""
        return False
    server.template_fingerprint = fingerprint
    return True


@dataclass
class TenantOutcome:
    tenant_id: str
    slug: str
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class FleetReport:
    fingerprint: str
    migrated: list[TenantOutcome] = field(default_factory=list)
    failed: list[TenantOutcome] = field(default_factory=list)
    skipped: int = 0
    templates_failed: list[str] = field(default_factory=list)


def tenants_to_migrate(slugs: list[str] | None = None) -> QuerySet[Tenant]:
    """Tenants that have a database to migrate (active or suspended)."""
    qs = Tenant.objects.select_related("server").filter(
        status__in=[Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED]
    )
    if slugs:
        qs = qs.filter(slug__in=slugs)
    return qs


def migrate_tenant(tenant_id: str) -> TenantOutcome:
    """Migrate one tenant's database and record the outcome in the registry."""
    outcome = _migrate_one(tenant_id)
    record_outcome(outcome)
    return outcome


def _migrate_one(tenant_id: str) -> TenantOutcome:
    started = time.perf_counter()
    tenant = Tenant.objects.select_related("server").get(pk=tenant_id)
    try:
        with _tenant_lock(tenant), tenant_context(tenant, direct=True):
            migrate_alias(direct_alias(tenant))
    except Exception as exc:
        logger.warning("migrating %s failed: %s", tenant.slug, exc)
        return TenantOutcome(
            str(tenant.id),
            tenant.slug,
            False,
            time.perf_counter() - started,
            f"{type(exc).__name__}: {exc}"[:2000],
        )
    finally:
        # One pass over many tenants must not keep a connection to each; and
        # what this process served from the old schema is connected anew.
        connections.forget(direct_alias(tenant))
        connections.forget(tenant.alias)
    return TenantOutcome(
        str(tenant.id), tenant.slug, True, time.perf_counter() - started
    )


@contextmanager
def _tenant_lock(tenant: Tenant) -> Iterator[None]:
    """Django takes no migration lock: two runs must not migrate one database.

    A transaction-level advisory lock on the registry: it ends with the
    transaction, whatever happens to this process's pooled connection.
    """
    if django_connections["default"].vendor != "postgresql":
        yield
        return
    key = int(tenant.id.hex[:15], 16)
    with transaction.atomic(), django_connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        if not cursor.fetchone()[0]:
            raise RuntimeError("another migration of this tenant is running")
        yield


def record_outcome(outcome: TenantOutcome) -> None:
    fields: dict[str, Any] = {
        "migrated_at": timezone.now(),
        "migration_seconds": outcome.seconds,
    }
    if outcome.ok:
        fields.update(migration_fingerprint=current_fingerprint(), migration_error="")
    else:
        fields.update(migration_error=outcome.error)
    Tenant.objects.filter(pk=outcome.tenant_id).update(**fields)


def migrate_tenants(
    *, slugs: list[str] | None = None, parallel: int = 1
) -> FleetReport:
    """Migrate every server's template, then each tenant not yet current."""
    fingerprint = current_fingerprint()
    report = FleetReport(fingerprint=fingerprint)
    for server in DatabaseServer.objects.filter(active=True):
        if not ensure_template(server):
            report.templates_failed.append(server.name)
    candidates = tenants_to_migrate(slugs)
    report.skipped = candidates.filter(migration_fingerprint=fingerprint).count()
    pending = [
        str(pk)
        for pk in candidates.exclude(migration_fingerprint=fingerprint).values_list(
            "pk", flat=True
        )
    ]
    for outcome in _run(pending, parallel):
        record_outcome(outcome)
        (report.migrated if outcome.ok else report.failed).append(outcome)
    return report


def _run(tenant_ids: list[str], parallel: int) -> Iterator[TenantOutcome]:
    if parallel <= 1 or len(tenant_ids) <= 1:
        yield from map(_migrate_one, tenant_ids)
        return
    # Forked workers inherit settings and the app registry; nothing they may
    # not share is open at fork time.
    django_connections.close_all()
    connections.forget_all()
    pool = connections.postgres_pools().pop(DEFAULT_DB_ALIAS, None)
    if pool is not None:
        pool.close()
    context = multiprocessing.get_context("fork")
    # Our own threads (the idle sweeper) hold no lock the children need: the
    # connection manager re-creates its lock after fork.
    warnings.filterwarnings(
        "ignore", "This process .* is multi-threaded", DeprecationWarning
    )
    with context.Pool(
        min(parallel, len(tenant_ids)), initializer=_forked_worker
    ) as workers:
        yield from workers.imap_unordered(_migrate_one, tenant_ids)


def _forked_worker() -> None:
    connections.postgres_pools().clear()  # the parent's; never close them here
    for conn in django_connections.all(initialized_only=True):
        conn.connection = None
