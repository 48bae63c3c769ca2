"""A few provisioned, unassigned databases per server: registering takes one.

Cloning the template, checking it is current and creating its role is most of
a registration's time; with TENANT_READY_POOL databases made ahead, a new
church only claims one in the registry transaction that writes its row.

- `refill(server)` drops members older than the current migrations (they are
  never handed out) and tops the pool up with fresh clones. A member's row is
  written before its database (`ready` last), as a tenant's is, so a crash
  leaves a row the reconciler finds, never an unknown database.
- `claim(server)` takes one ready, current member inside the caller's
  transaction: the tenant's row and the member's removal commit together.
- `reconcile(...)` removes members stuck unready past the grace period, and
  rows whose database has gone.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from tenants.migrating import (
    current_fingerprint,
    ensure_template,
    is_current,
    migrate_alias,
    temporary_alias,
)
from tenants.models import DatabaseServer, ReadyDatabase
from tenants.secrets import encrypt, generate_password
from tenants.servers import ServerUnavailable, backend_for

logger = logging.getLogger(__name__)

REFILL_LOCK_SECONDS = 300
REFILL_TASK = "tenants.tasks.refill_ready_pool_task"  # by name: tasks import us


@dataclass(frozen=True)
class Claimed:
    database_name: str
    database_user: str
    database_password: str  # encrypted, as stored
    fingerprint: str


def claim(server: DatabaseServer) -> Claimed | None:
    """Take a ready member of `server`'s pool, current with the migrations.

    Call inside the transaction that gives the database to a tenant; if that
    transaction rolls back, the member stays in the pool.
    """
    fingerprint = current_fingerprint()
    candidates = ReadyDatabase.objects.filter(
        server=server, ready=True, fingerprint=fingerprint
    ).order_by("created_at")
    for _ in range(3):
        member = candidates.select_for_update(skip_locked=True).first()
        if member is None:
            return None
        # On SQLite the lock is a no-op: the delete decides who got it.
        taken, _ = ReadyDatabase.objects.filter(pk=member.pk).delete()
        if taken:
            return Claimed(
                member.database_name,
                member.database_user,
                member.database_password,
                member.fingerprint,
            )
    return None


def refill(server: DatabaseServer) -> int:
    """Bring `server`'s pool to TENANT_READY_POOL current members; how many made."""
    wanted = settings.TENANT_READY_POOL
    if wanted <= 0 or not server.active:
        return 0
    lock = f"registry:ready-pool:{server.pk}"
    if not cache.add(lock, 1, REFILL_LOCK_SECONDS):
        return 0  # another process is refilling this server
    try:
        fingerprint = current_fingerprint()
        for stale in ReadyDatabase.objects.filter(server=server).exclude(
            fingerprint=fingerprint
        ):
            _discard(stale, fingerprint=stale.fingerprint)
        missing = wanted - ReadyDatabase.objects.filter(server=server).count()
        if missing <= 0 or not ensure_template(server):
            return 0
        made = 0
        for _ in range(missing):
            _make(server, fingerprint)
            made += 1
        return made
    finally:
        cache.delete(lock)


def refill_all(server_id: int | None = None) -> int:
    """Refill every active server's pool (or one's); a server that fails is
    logged and skipped. Returns how many databases were made."""
    servers = DatabaseServer.objects.filter(active=True)
    if server_id is not None:
        servers = servers.filter(pk=server_id)
    made = 0
    for server in servers:
        try:
            made += refill(server)
        except Exception:
            logger.exception("refilling the ready pool of %s failed", server.name)
    return made


def _make(server: DatabaseServer, fingerprint: str) -> None:
    backend = backend_for(server)
    name = f"{settings.TENANT_DB_PREFIX}{uuid.uuid4().hex}"
    postgres = server.engine == "postgresql"
    password = generate_password() if postgres else ""
    member = ReadyDatabase.objects.create(
        server=server,
        database_name=name,
        database_user=name if postgres else "",
        database_password=encrypt(password) if password else "",
        fingerprint=fingerprint,
    )
    try:
        backend.clone_template(name=name, user=member.database_user, password=password)
        config = backend.tenant_settings(
            name, member.database_user, password, direct=True
        )
        with temporary_alias(f"ready_{member.pk}", config) as alias:
            if not is_current(alias):
                migrate_alias(alias)
    except Exception:
        _discard(member)
        raise
    # A member the reconciler gave up on meanwhile is gone with its database.
    ReadyDatabase.objects.filter(pk=member.pk).update(ready=True)


def drain(server: DatabaseServer) -> int:
    """Drop every member of `server`'s pool (before retiring the server)."""
    members = ReadyDatabase.objects.filter(server=server)
    return sum(_discard(member) for member in members)


def _discard(member: ReadyDatabase, **still: object) -> bool:
    """Take a member out of the pool, then drop its database; False if a claim
    (or another discard) took it first, or it no longer matches `still`.

    The row goes first: a claim that already holds it keeps its database, and
    a drop that fails leaves a database with no row and no tenant, which the
    reconciler's orphan sweep removes.
    """
    taken, _ = ReadyDatabase.objects.filter(pk=member.pk, **still).delete()
    if not taken:
        return False
    backend_for(member.server).drop_database(
        name=member.database_name, user=member.database_user
    )
    return True


def reconcile(cutoff: datetime, present: dict[int, set[str]]) -> list[str]:
    """Clean members stuck unready since before `cutoff`, and rows whose database
    is not among `present` (names per server id, for the servers listed)."""
    cleaned: list[str] = []
    stuck = ReadyDatabase.objects.select_related("server").filter(
        ready=False, created_at__lte=cutoff
    )
    for member in stuck:
        try:
            if _discard(member, ready=False):
                cleaned.append(member.database_name)
        except ServerUnavailable:
            continue
    for server_id, names in present.items():
        gone = ReadyDatabase.objects.filter(
            server_id=server_id, ready=True, created_at__lte=cutoff
        ).exclude(database_name__in=names)
        cleaned.extend(gone.values_list("database_name", flat=True))
        gone.delete()
    return cleaned


def pool_names(server: DatabaseServer) -> set[str]:
    """The databases the pool owns on `server` (not orphans)."""
    return set(
        ReadyDatabase.objects.filter(server=server).values_list(
            "database_name", flat=True
        )
    )


def refill_after_commit(server: DatabaseServer) -> None:
    """Refill off the request: a task after the commit, when a broker runs one."""
    if settings.CELERY_TASK_ALWAYS_EAGER or settings.TENANT_READY_POOL <= 0:
        return  # no worker: `refill_ready_pool` and beat top the pool up
    server_id = server.pk
    transaction.on_commit(lambda: current_app.send_task(REFILL_TASK, args=[server_id]))
