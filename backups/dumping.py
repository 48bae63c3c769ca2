"""Writing a church's database to backup storage, and keeping what retention says.

PostgreSQL: `pg_dump --format=custom` of the church's own database, run with
the server's credentials; SQLite: the online backup API. The file goes to the
`backups` storage (`$VAR_DIR/backups`, or any Django storage backend) and is
recorded with its size, SHA-256, the church's migration fingerprint and the
tool's version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import close_old_connections
from django.utils import timezone

from backups.models import Backup
from tenants.models import Tenant
from tenants.servers import backend_for

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024


def storage() -> Storage:
    return storages["backups"]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def backup_tenant(tenant: Tenant) -> Backup:
    """Dump `tenant`'s database to backup storage and record it."""
    tenant = Tenant.objects.select_related("server").get(pk=tenant.pk)
    started = timezone.now()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "database.dump"
        tool = backend_for(tenant.server).dump(tenant.database_name, path)
        size, sha = path.stat().st_size, file_digest(path)
        with path.open("rb") as handle:
            name = storage().save(
                f"{tenant.id.hex}/{started:%Y%m%dT%H%M%S}.dump", File(handle)
            )
    return Backup.objects.create(
        tenant=tenant,
        started_at=started,
        finished_at=timezone.now(),
        engine=tenant.server.engine,
        database_name=tenant.database_name,
        file_name=name,
        size=size,
        sha256=sha,
        fingerprint=tenant.migration_fingerprint,
        tool_version=tool[:100],
    )


def backup_many(
    tenants: Iterable[Tenant], *, parallel: int = 1
) -> list[tuple[Tenant, Backup | Exception]]:
    """Back up each tenant, `parallel` at a time; one failure stops no other."""

    def one(tenant: Tenant) -> tuple[Tenant, Backup | Exception]:
        try:
            return tenant, backup_tenant(tenant)
        except Exception as exc:
            logger.exception("backing up %s failed", tenant.slug)
            return tenant, exc
        finally:
            close_old_connections()

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, list(tenants)))


def expired(tenant: Tenant, now: dt.datetime) -> list[Backup]:
    """Backups past retention: older than BACKUP_RETENTION_DAYS, except the first
    of each month for twelve months."""
    keep_after = now - dt.timedelta(days=settings.BACKUP_RETENTION_DAYS)
    year_ago = now - dt.timedelta(days=366)
    first_of_month: dict[tuple[int, int], Backup] = {}
    backups = list(Backup.objects.filter(tenant=tenant).order_by("started_at"))
    for backup in backups:
        month = (backup.started_at.year, backup.started_at.month)
        first_of_month.setdefault(month, backup)
    monthly = {b.pk for b in first_of_month.values() if b.started_at > year_ago}
    return [b for b in backups if b.started_at < keep_after and b.pk not in monthly]


def remove_backups(backups: Iterable[Backup], *, strict: bool = False) -> int:
    """Delete the files and rows; `strict`: raise if a file could not be deleted
    (a purge, which must not leave a church's data behind, is then retried)."""
    files = storage()
    removed, failed = 0, []
    for backup in backups:
        try:
            files.delete(backup.file_name)
        except Exception as exc:
            logger.exception("deleting backup file %s failed", backup.file_name)
            failed.append(exc)
            continue
        backup.delete()
        removed += 1
    if strict and failed:
        raise failed[0]
    return removed
