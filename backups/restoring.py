"""Restoring a church from a backup, into a new database swapped in briefly.

1. The backup is checked: this church's, the same engine, its SHA-256 intact.
2. It is loaded into a new database beside the live one (recorded as a
   `RetiredDatabase` first, so that a restore that stops half-way is cleaned
   up by the reconciler), migrated forward, given the opt-outs and erasures
   the registry recorded since the backup began, and every table counted.
3. The church goes to `maintenance` (every request 503 with Retry-After),
   long enough for every process to see it. Messages the backup has still
   waiting that the live database has sent since take their state from it
   (nothing is sent twice); the live database is fenced (no new connections,
   the open ones closed); the opt-outs and erasures made while the copy was
   prepared are applied too; the two swap names in one transaction; the
   church comes back in its previous state. The replaced database is kept
   under a suffixed name for `keep_old_days`.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backups.dumping import file_digest, storage
from backups.models import Backup
from backups.reapply import reapply_events
from messaging.backlog import replay_for
from messaging.models import Message
from messaging.quota import PENDING, settle
from tenants import connections
from tenants.context import direct_alias, tenant_atomic, tenant_context
from tenants.holds import release_tenant
from tenants.lookup import invalidate_tenant
from tenants.migrating import current_fingerprint, migrate_alias
from tenants.models import RetiredDatabase, Tenant
from tenants.servers import backend_for

# Events are written just before their church's transaction commits, so one
# may be in a backup that began a moment later; re-applying it is harmless.
EVENT_MARGIN = dt.timedelta(minutes=1)
RESTORABLE = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


class RestoreRefused(Exception):
    """The restore was not started: the message says why."""


@dataclass
class RestoreReport:
    backup: Backup
    retired: str
    tables: dict[str, int] = field(default_factory=dict)
    reapplied: int = 0
    applied_until: dt.datetime | None = None
    maintenance_seconds: float = 0.0


def choose_backup(
    tenant: Tenant, *, backup_id: uuid.UUID | None = None, at: dt.datetime | None = None
) -> Backup:
    """The backup asked for (by id, or the last one begun by `at`, or the last)."""
    if backup_id is not None:
        backup = Backup.objects.filter(pk=backup_id).first()
        if backup is None:
            raise RestoreRefused(f"No backup {backup_id}.")
        if backup.tenant_id != tenant.pk:
            raise RestoreRefused(
                f"Backup {backup_id} is another church's, not {tenant.slug}'s."
            )
        return backup
    backups = Backup.objects.filter(tenant=tenant)
    if at is not None:
        backups = backups.filter(started_at__lte=at)
    backup = backups.order_by("-started_at").first()
    if backup is None:
        raise RestoreRefused(
            f"{tenant.slug} has no backup{' by ' + str(at) if at else ''}."
        )
    return backup


def restore(tenant: Tenant, backup: Backup, *, keep_old_days: int = 7) -> RestoreReport:
    tenant = Tenant.objects.select_related("server").get(pk=tenant.pk)
    if backup.tenant_id != tenant.pk:
        raise RestoreRefused(
            f"Backup {backup.pk} is another church's, not {tenant.slug}'s."
        )
    if backup.engine != tenant.server.engine:
        raise RestoreRefused(
            f"Backup {backup.pk} is of {backup.engine}; "
            f"the church is on {tenant.server.engine}."
        )
    if tenant.status not in RESTORABLE:
        raise RestoreRefused(
            f"{tenant.slug} is {tenant.status}; "
            "only an active or suspended church is restored."
        )
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    incoming = f"{tenant.database_name}_r{stamp}"
    report = RestoreReport(backup=backup, retired=f"{tenant.database_name}_o{stamp}")
    backend = backend_for(tenant.server)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "database.dump"
        with (
            storage().open(backup.file_name, "rb") as source,
            path.open("wb") as target,
        ):
            shutil.copyfileobj(source, target)
        if file_digest(path) != backup.sha256:
            raise RestoreRefused(
                f"Backup {backup.pk} does not match its checksum; it is damaged."
            )
        RetiredDatabase.objects.create(
            server=tenant.server, name=incoming, tenant=tenant,
            reason="a restore was building it",
            drop_after=timezone.now() + dt.timedelta(days=1),
        )  # fmt: skip
        try:
            backend.load(incoming, tenant.database_user, path)
            _prepare(tenant, incoming, backup, report)
        except BaseException:
            backend.drop_database(name=incoming, user="")
            RetiredDatabase.objects.filter(server=tenant.server, name=incoming).delete()
            raise
    _swap(tenant, incoming, report, keep_old_days)
    replay_for(tenant)
    return report


@contextmanager
def _in_copy(tenant: Tenant, incoming: str) -> Iterator[str]:
    """Inside a stand-in for the church whose database is the incoming one
    (an alias of its own, the church's pepper); yields the alias."""
    stand_in = copy.copy(tenant)
    stand_in.id = uuid.uuid4()
    stand_in.database_name = incoming
    try:
        with tenant_context(stand_in, direct=True):
            yield direct_alias(stand_in)
    finally:
        connections.forget(direct_alias(stand_in))


def _prepare(
    tenant: Tenant, incoming: str, backup: Backup, report: RestoreReport
) -> None:
    """Migrate, re-apply, count, in the incoming database."""
    with _in_copy(tenant, incoming) as alias:
        migrate_alias(alias)
        report.applied_until = timezone.now()
        report.reapplied = reapply_events(tenant, backup.started_at - EVENT_MARGIN)
        report.tables = count_rows()


def _catch_up(tenant: Tenant, incoming: str, report: RestoreReport) -> None:
    """What the church did while the copy was prepared, carried into it: the
    opt-outs and erasures since, and the sending of messages the backup has
    still waiting (sent since: not to be sent again)."""
    with _in_copy(tenant, incoming):
        waiting = list(
            Message.objects.filter(status__in=PENDING).values_list("pk", flat=True)
        )
    done = {}
    if waiting:
        with tenant_context(tenant):
            done = {
                row["pk"]: row
                for row in Message.objects.filter(pk__in=waiting)
                .exclude(status__in=PENDING)
                .values("pk", "status", "provider_sid", "sent_at", "error_code")
            }
    backend_for(tenant.server).fence(tenant.database_name)
    with _in_copy(tenant, incoming):
        for pk, row in done.items():
            fields = {k: v for k, v in row.items() if k != "pk"}
            with tenant_atomic():
                if Message.objects.filter(pk=pk, status__in=PENDING).update(**fields):
                    settle(
                        Message.objects.get(pk=pk).segments,
                        sent=row["status"] not in ("failed", "canceled"),
                    )
        report.reapplied += reapply_events(tenant, report.applied_until)


def count_rows() -> dict[str, int]:
    """Every tenant table opened and counted, in the current context."""
    return {
        model._meta.db_table: model.objects.count()
        for label in settings.TENANT_APPS
        for model in apps.get_app_config(label).get_models()
    }


def _swap(
    tenant: Tenant, incoming: str, report: RestoreReport, keep_old_days: int
) -> None:
    previous = tenant.status
    if not Tenant.objects.filter(pk=tenant.pk, status=previous).update(
        status=Tenant.Status.MAINTENANCE, updated_at=timezone.now()
    ):
        raise RestoreRefused(
            f"{tenant.slug} changed state during the restore; run it again."
        )
    invalidate_tenant(tenant.pk)
    began = time.monotonic()
    try:
        # Every process reuses a tenant record for TENANT_RECORD_LOCAL_SECONDS:
        # after that, none serves the church from the database being replaced.
        time.sleep(settings.TENANT_RECORD_LOCAL_SECONDS)
        connections.forget(tenant.alias)
        connections.forget(direct_alias(tenant))
        _catch_up(tenant, incoming, report)
        connections.forget(tenant.alias)
        backend_for(tenant.server).swap(
            live=tenant.database_name, incoming=incoming, retired=report.retired
        )
        with transaction.atomic():
            RetiredDatabase.objects.filter(server=tenant.server, name=incoming).delete()
            RetiredDatabase.objects.create(
                server=tenant.server, name=report.retired, tenant=tenant,
                reason=f"replaced by the restore of backup {report.backup.pk}",
                drop_after=timezone.now() + dt.timedelta(days=keep_old_days),
            )  # fmt: skip
            Tenant.objects.filter(pk=tenant.pk).update(
                migration_fingerprint=current_fingerprint(), migrated_at=timezone.now()
            )
    finally:
        Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.MAINTENANCE).update(
            status=previous, updated_at=timezone.now()
        )
        invalidate_tenant(tenant.pk)
        release_tenant(tenant.pk)  # as after a move: the swap is a new start
        report.maintenance_seconds = time.monotonic() - began
