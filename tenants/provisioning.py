"""Creating tenants (`provision_tenant`) and finishing or undoing stuck ones.

States: provisioning -> active (-> suspended / maintenance / deleting); failed.
Each step is ordered so that a crash anywhere leaves something
`reconcile_tenants` can find: the registry row is written first, the database
second, `active` last.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import slugify

from telemetry import metrics
from tenants import connections, ready_pool
from tenants.context import direct_alias, tenant_context
from tenants.holds import is_held
from tenants.lifecycle import purge_due
from tenants.migrating import (
    current_fingerprint,
    ensure_template,
    is_current,
    migrate_alias,
)
from tenants.models import DatabaseServer, RetiredDatabase, Tenant, split_password
from tenants.secrets import decrypt, encrypt, generate_password
from tenants.servers import ServerUnavailable, backend_for, tenant_database_pattern

logger = logging.getLogger(__name__)

LIVE_STATUSES = (
    Tenant.Status.PROVISIONING,
    Tenant.Status.ACTIVE,
    Tenant.Status.SUSPENDED,
    Tenant.Status.MAINTENANCE,
    Tenant.Status.DELETING,  # kept, restorable, until purge_after
)

# Called with (step, tenant) after each step; tests use it to crash mid-way.
step_hooks: list[Callable[[str, Tenant], None]] = []


class ProvisioningError(Exception):
    """The tenant could not be created; nothing of it is left behind."""


class ProvisioningBusy(ProvisioningError):
    """Refused before anything was made: too many provisionings at once."""


class NoServerAvailable(ProvisioningError):
    """No active database server has room."""


class _Admission:
    """At most PROVISIONING_CONCURRENCY provisionings per process, and a bounded
    queue behind them.

    A provisioning holds a registry connection (the process's pool is small)
    and server connections while it creates a database. A burst of
    registrations waits here holding neither, up to PROVISIONING_WAIT_SECONDS
    and at most PROVISIONING_QUEUE deep; past that it is refused cleanly
    (`ProvisioningBusy`, a 503 with Retry-After) instead of timing out on a
    pool halfway through.
    """

    def __init__(self, slots: int, queue: int, wait: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self._queue = queue
        self._wait = wait

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self._queue:
                    raise ProvisioningBusy("Too many registrations at once; retry.")
                self._waiting += 1
            try:
                if not connection.in_atomic_block:
                    connection.close()  # hand the registry connection back meanwhile
                acquired = self._slots.acquire(timeout=self._wait)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not acquired:
                raise ProvisioningBusy("Registrations are busy; retry.")
        try:
            yield
        finally:
            self._slots.release()


admission = _Admission(
    settings.PROVISIONING_CONCURRENCY,
    settings.PROVISIONING_QUEUE,
    settings.PROVISIONING_WAIT_SECONDS,
)


def _step(name: str, tenant: Tenant) -> None:
    for hook in step_hooks:
        hook(name, tenant)


def sync_configured_servers() -> None:
    """Make sure every server named in TENANT_DB_SERVERS has a registry row.

    Rows are matched by the URL without its password. A password given in the
    setting is stored encrypted, and replaces the stored one when it changed;
    an entry without one leaves the stored password alone.
    """
    configured = dict(split_password(url) for url in settings.TENANT_DB_SERVERS)
    known = {s.url: s for s in DatabaseServer.objects.filter(url__in=configured)}
    for url, password in configured.items():
        server = known.get(url)
        if server is None:
            _register_server(url, password)
        elif password and server.stored_password() != password:
            server.password = encrypt(password)
            server.save(update_fields=["password"])


def _register_server(url: str, password: str) -> None:
    base = slugify(url.split("@")[-1].replace(":", "-").replace("/", "-"))[:50]
    name = base or "server"
    while DatabaseServer.objects.filter(name=name).exists():
        name = f"{base}-{secrets.token_hex(2)}"
    DatabaseServer.objects.get_or_create(
        url=url,
        defaults={
            "name": name,
            "capacity": settings.TENANT_SERVER_CAPACITY,
            "password": encrypt(password) if password else "",
        },
    )


def choose_server() -> DatabaseServer:
    """The active server with the most room left."""
    sync_configured_servers()
    servers = DatabaseServer.objects.filter(active=True).annotate(
        used=Count("tenants", filter=Q(tenants__status__in=LIVE_STATUSES))
    )
    reachable = [s for s in servers if not is_held(s.id)]
    best = max(reachable, key=lambda s: s.capacity - s.used, default=None)
    if best is None or best.capacity - best.used <= 0:
        raise NoServerAvailable("No active database server has room for a tenant.")
    return best


def unique_slug(name: str, wanted: str | None = None) -> str:
    base = slugify(wanted or name)[:40].strip("-") or "church"
    slug = base
    while (
        Tenant.objects.filter(slug=slug).exclude(status=Tenant.Status.FAILED).exists()
    ):
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def _place(
    *, name: str, slug: str | None, server: DatabaseServer | None, **fields: str | bool
) -> tuple[Tenant, str]:
    """Write the registry row (status provisioning) on the chosen server.

    With a ready database in the server's pool, the row takes it in the same
    transaction; returns the tenant and that database's migration fingerprint
    ("" when the database is still to be made).
    """
    server = server or choose_server()
    for _ in range(5):
        tenant = Tenant(
            name=name.strip(),
            slug=unique_slug(name, slug),
            status=Tenant.Status.PROVISIONING,
            server=server,
            **fields,
        )
        tenant.database_name = f"{settings.TENANT_DB_PREFIX}{tenant.id.hex}"
        if server.engine == "postgresql":
            tenant.database_user = tenant.database_name
            tenant.database_password = encrypt(generate_password())
        try:
            with transaction.atomic():
                claimed = ready_pool.claim(server)
                if claimed is not None:
                    tenant.database_name = claimed.database_name
                    tenant.database_user = claimed.database_user
                    tenant.database_password = claimed.database_password
                    ready_pool.refill_after_commit(server)
                tenant.save(force_insert=True)
        except IntegrityError:
            if slug:
                raise ProvisioningError(f"The slug {slug!r} is taken.") from None
            continue  # a concurrent registration took the slug; pick another
        return tenant, claimed.fingerprint if claimed else ""
    raise ProvisioningError("Could not find a free slug.")


def provision_tenant(
    *,
    name: str,
    slug: str | None = None,
    timezone_name: str = "America/New_York",
    country: str = "US",
    server: DatabaseServer | None = None,
    before_activate: Callable[[Tenant], None] | None = None,
) -> Tenant:
    """Create a tenant and its database; returns it `active` or raises.

    `before_activate` runs in the registry transaction that activates the tenant
    (registration creates the owner there): both happen, or neither. Raises
    `ProvisioningBusy` when more are under way than the process admits.
    """
    began = time.perf_counter()
    outcome = "failed"
    try:
        with admission():
            tenant = _provision(
                name=name,
                slug=slug,
                timezone_name=timezone_name,
                country=country,
                server=server,
                before_activate=before_activate,
            )
        outcome = "ok"
        return tenant
    except ProvisioningBusy:
        outcome = "busy"
        raise
    finally:
        metrics.provisioning_seconds.labels(outcome).observe(
            time.perf_counter() - began
        )


def _provision(
    *,
    name: str,
    slug: str | None,
    timezone_name: str,
    country: str,
    server: DatabaseServer | None,
    before_activate: Callable[[Tenant], None] | None,
) -> Tenant:
    if slug is not None and (not slug or slugify(slug) != slug):
        raise ProvisioningError(f"{slug!r} is not a valid slug.")
    if (
        slug
        and Tenant.objects.filter(slug=slug)
        .exclude(status=Tenant.Status.FAILED)
        .exists()
    ):
        raise ProvisioningError(f"The slug {slug!r} is taken.")
    tenant, fingerprint = _place(
        name=name,
        slug=slug,
        server=server,
        timezone=timezone_name,
        country=country,
        awaiting_owner=before_activate is not None,
    )
    _step("placed", tenant)
    try:
        if not fingerprint:  # no ready database was free: make one now
            _create_database(tenant)
            _step("database_created", tenant)
            fingerprint = _migrate_new(tenant)
        _step("migrated", tenant)
        with transaction.atomic():
            if before_activate is not None:
                before_activate(tenant)
            if not _activate(tenant, fingerprint):
                raise ProvisioningError(
                    "The tenant was changed while it was provisioned."
                )
        _step("activated", tenant)
    except Exception as exc:
        logger.exception("provisioning %s failed", tenant.slug)
        discard_tenant(tenant)
        raise ProvisioningError(f"Provisioning {tenant.slug} failed: {exc}") from exc
    tenant.refresh_from_db()
    return tenant


def _activate(tenant: Tenant, fingerprint: str) -> bool:
    """provisioning -> active, only from provisioning (a conditional update)."""
    now = timezone.now()
    return bool(
        Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.PROVISIONING).update(
            status=Tenant.Status.ACTIVE,
            awaiting_owner=False,
            migration_fingerprint=fingerprint,
            migrated_at=now,
            updated_at=now,
        )
    )


def _create_database(tenant: Tenant) -> None:
    backend = backend_for(tenant.server)
    password = _password(tenant)
    if ensure_template(tenant.server):
        try:
            backend.clone_template(
                name=tenant.database_name, user=tenant.database_user, password=password
            )
            return
        except ServerUnavailable:
            raise
        except Exception:
            logger.warning(
                "clone failed for %s; creating it empty", tenant.slug, exc_info=True
            )
            backend.drop_database(name=tenant.database_name, user=tenant.database_user)
    backend.create_database(
        name=tenant.database_name, user=tenant.database_user, password=password
    )


def _password(tenant: Tenant) -> str:
    return decrypt(tenant.database_password) if tenant.database_password else ""


def _migrate_new(tenant: Tenant) -> str:
    """Make sure the new database is current (a no-op check after a clone)."""
    fingerprint = current_fingerprint()
    try:
        with tenant_context(tenant, direct=True):
            if not is_current(direct_alias(tenant)):
                migrate_alias(direct_alias(tenant))
    finally:
        connections.forget(direct_alias(tenant))
    return fingerprint


def discard_tenant(tenant: Tenant) -> bool:
    """Undo a tenant that never became active: no database, no role, row `failed`.

    Only a tenant still `provisioning` is discarded (the claim comes first): one
    that was activated meanwhile keeps its database. Returns whether it was.
    """
    claimed = Tenant.objects.filter(
        pk=tenant.pk, status=Tenant.Status.PROVISIONING
    ).update(status=Tenant.Status.FAILED, updated_at=timezone.now())
    if not claimed:
        return False
    connections.forget(tenant.alias)
    connections.forget(direct_alias(tenant))
    try:
        backend_for(tenant.server).drop_database(
            name=tenant.database_name, user=tenant.database_user
        )
    except Exception:
        # The reconciler retries: it drops databases with no live tenant row.
        logger.exception("dropping the database of %s failed", tenant.slug)
    return True


@dataclass
class ReconcileReport:
    activated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    orphans_dropped: list[str] = field(default_factory=list)
    pool_cleaned: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def reconcile_tenants(*, older_than: timedelta | None = None) -> ReconcileReport:
    """Finish or clean up tenants stuck mid-way, purge churches past their
    deletion grace period, drop databases nobody owns."""
    if older_than is None:
        older_than = timedelta(seconds=settings.TENANT_PROVISIONING_GRACE_SECONDS)
    cutoff = timezone.now() - older_than
    report = ReconcileReport()
    stuck = Tenant.objects.select_related("server").filter(updated_at__lte=cutoff)
    for tenant in stuck.filter(status=Tenant.Status.PROVISIONING):
        try:
            _reconcile_provisioning(tenant, report)
        except Exception as exc:
            report.errors.append(f"{tenant.slug}: {exc}")
    purged, errors = purge_due()  # only churches past their purge_after
    report.deleted += purged
    report.errors += errors
    _drop_retired(report)
    present = _drop_orphans(cutoff, report)
    report.pool_cleaned = ready_pool.reconcile(cutoff, present)
    return report


def _reconcile_provisioning(tenant: Tenant, report: ReconcileReport) -> None:
    backend = backend_for(tenant.server)
    if not tenant.awaiting_owner and backend.database_exists(tenant.database_name):
        try:
            with tenant_context(tenant, direct=True):
                complete = is_current(direct_alias(tenant))
        except Exception:
            complete = False
        finally:
            connections.forget(direct_alias(tenant))
        if complete and _activate(tenant, current_fingerprint()):
            report.activated.append(tenant.slug)
            return
    if discard_tenant(tenant):
        report.failed.append(tenant.slug)


def _drop_retired(report: ReconcileReport) -> None:
    """Drop the copies kept by restores once their time is up."""
    due = RetiredDatabase.objects.select_related("server").filter(
        drop_after__lte=timezone.now()
    )
    for retired in due:
        try:
            backend_for(retired.server).drop_database(
                name=retired.name, user=retired.role
            )
        except Exception as exc:
            report.errors.append(f"{retired.name}: {exc}")
            continue
        retired.delete()
        report.orphans_dropped.append(retired.name)


def _drop_orphans(cutoff: datetime, report: ReconcileReport) -> dict[int, set[str]]:
    """Drop prefixed databases/roles with no live tenant (that are not brand new)
    and not in the ready pool; returns the names found on each server listed."""
    pattern = tenant_database_pattern()
    found: dict[int, set[str]] = {}
    for server in DatabaseServer.objects.filter(active=True):
        backend = backend_for(server)
        try:
            present = {name for name in backend.list_databases() if pattern.match(name)}
        except ServerUnavailable as exc:
            report.errors.append(f"{server.name}: {exc}")
            continue
        found[server.pk] = present
        if not present:
            continue
        owned = dict(
            Tenant.objects.filter(database_name__in=present).values_list(
                "database_name", "status"
            )
        )
        pooled = ready_pool.pool_names(server)
        recent = set(
            Tenant.objects.filter(
                database_name__in=present, updated_at__gt=cutoff
            ).values_list("database_name", flat=True)
        )
        for name in sorted(present):
            status = owned.get(name)
            if status in LIVE_STATUSES or name in recent or name in pooled:
                continue
            user = name if server.engine == "postgresql" else ""
            try:
                backend.drop_database(name=name, user=user)
            except Exception as exc:  # e.g. a role that a kept copy still needs
                report.errors.append(f"{name}: {exc}")
                continue
            report.orphans_dropped.append(name)
    return found
