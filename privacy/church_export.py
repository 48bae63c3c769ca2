"""A whole church as a zip: one JSON Lines file per table, and members.csv.

Built by a Celery task inside the church's context into the `exports`
storage (a directory by default, any Django storage backend by setting), one
export per church at a time. The download link is signed for one export of
one church and expires with it (`EXPORT_LINK_HOURS`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable
from typing import IO

from django.apps import apps
from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.utils import timezone
from psycopg import sql

from api.errors import Conflict
from members.csvio import export_rows
from members.models import Member
from privacy.models import ChurchExport
from tenants.context import current_alias, require_tenant
from tenants.models import Tenant

logger = logging.getLogger(__name__)

SALT = "privacy.church-export"
# An export still queued or running after this long was lost with its worker.
STALE_AFTER = dt.timedelta(hours=2)
ROWS_PER_WRITE = 2000


class ExportRunning(Conflict):
    message = "An export of this church is already being built."


def storage() -> Storage:
    return storages["exports"]


def request_export(tenant: Tenant, *, user_id: uuid.UUID | None) -> ChurchExport:
    """A queued export, or `ExportRunning` if one is under way.

    The caller queues its build; if that fails, `abandon` frees the church.
    """
    ChurchExport.objects.filter(
        tenant=tenant,
        status__in=[ChurchExport.Status.QUEUED, ChurchExport.Status.RUNNING],
        created_at__lt=timezone.now() - STALE_AFTER,
    ).update(status=ChurchExport.Status.FAILED, error="lost: took too long")
    try:
        with transaction.atomic():
            return ChurchExport.objects.create(tenant=tenant, requested_by=user_id)
    except IntegrityError as exc:
        raise ExportRunning() from exc


def build_export(export_id: uuid.UUID) -> None:
    """Build the zip of the current church (run by the task, in its context).

    A failure is recorded on the export (`failed`), for the owner to see.
    """
    tenant = require_tenant()
    claimed = ChurchExport.objects.filter(
        pk=export_id, tenant=tenant, status=ChurchExport.Status.QUEUED
    ).update(status=ChurchExport.Status.RUNNING)
    if not claimed:
        return  # built already, or not this church's
    try:
        with tempfile.TemporaryFile() as scratch:
            _write_zip(scratch)
            size = scratch.tell()
            scratch.seek(0)
            name = storage().save(
                f"{tenant.id.hex}/{export_id}.zip", File(scratch, name="export.zip")
            )
    except Exception as exc:
        logger.exception("export %s of %s failed", export_id, tenant.pk)
        ChurchExport.objects.filter(pk=export_id).update(
            status=ChurchExport.Status.FAILED,
            error=str(exc)[:500],
            finished_at=timezone.now(),
        )
        return
    now = timezone.now()
    ChurchExport.objects.filter(pk=export_id).update(
        status=ChurchExport.Status.READY,
        file_name=name,
        size=size,
        finished_at=now,
        expires_at=now + dt.timedelta(hours=settings.EXPORT_LINK_HOURS),
    )


def _write_zip(target: IO[bytes]) -> None:
    # Level 1: most of the size saved for a fraction of the time of the default.
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        connection = connections[current_alias() or ""]
        for label in settings.TENANT_APPS:
            for model in apps.get_app_config(label).get_models():
                name = f"{model._meta.db_table}.jsonl"
                with archive.open(name, "w", force_zip64=True) as out:
                    if connection.vendor == "postgresql":
                        _copy_json(connection, model, out)
                    else:
                        rows = model.objects.order_by("pk").values()
                        _write_lines(out, (
                            json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False)
                            for row in rows.iterator(chunk_size=5000)
                        ))  # fmt: skip
        members = (
            Member.objects.select_related("branch")
            .prefetch_related("tag_links")
            .order_by("last_name", "first_name", "id")
        )
        with archive.open("members.csv", "w", force_zip64=True) as out:
            batch: list[str] = []
            for line in export_rows(members.iterator(chunk_size=2000)):
                batch.append(line)
                if len(batch) >= ROWS_PER_WRITE:
                    out.write("".join(batch).encode())
                    batch = []
            out.write("".join(batch).encode())


def _copy_json(
    connection: BaseDatabaseWrapper, model: type[Model], out: IO[bytes]
) -> None:
    """One JSON object per row, made by PostgreSQL and streamed with COPY.

    CSV with control characters as quote and delimiter copies each line as it
    is: JSON escapes every control character, so none occurs in a row.
    """
    query = sql.SQL(
        "COPY (SELECT row_to_json(t)::text FROM {} t ORDER BY {}) TO STDOUT "
        "WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
    ).format(
        sql.Identifier(model._meta.db_table), sql.Identifier(model._meta.pk.column)
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(query) as copy:
            for chunk in copy:
                out.write(chunk)


def _write_lines(out: IO[bytes], lines: Iterable[str]) -> None:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= ROWS_PER_WRITE:
            out.write(("\n".join(batch) + "\n").encode())
            batch = []
    if batch:
        out.write(("\n".join(batch) + "\n").encode())


def abandon(export: ChurchExport, reason: str) -> None:
    ChurchExport.objects.filter(pk=export.pk).update(
        status=ChurchExport.Status.FAILED, error=reason, finished_at=timezone.now()
    )


def download_signature(export: ChurchExport) -> str:
    return signing.dumps({"t": export.tenant_id.hex, "e": export.pk.hex}, salt=SALT)


def download_url(export: ChurchExport, absolute: Callable[[str], str]) -> str | None:
    """Where the ready export is fetched: signed by us for local storage, the
    backend's own (pre-signed) URL otherwise. `absolute` makes a path a URL."""
    if export.status != ChurchExport.Status.READY:
        return None
    files = storage()
    if isinstance(files, FileSystemStorage):
        path = f"/api/tenant/exports/{export.pk}/download"
        return absolute(f"{path}?signature={download_signature(export)}")
    return files.url(export.file_name)


def signed_export(export_id: uuid.UUID | None, signature: str) -> ChurchExport | None:
    """The ready, unexpired export `signature` was made for, or None."""
    try:
        signed = signing.loads(
            signature, salt=SALT, max_age=dt.timedelta(hours=settings.EXPORT_LINK_HOURS)
        )
    except signing.BadSignature:
        return None
    if (
        export_id is None
        or not isinstance(signed, dict)
        or signed.get("e") != export_id.hex
    ):
        return None
    return ChurchExport.objects.filter(
        pk=export_id,
        tenant_id=uuid.UUID(str(signed.get("t"))),
        status=ChurchExport.Status.READY,
        expires_at__gt=timezone.now(),
    ).first()


def remove_exports(exports: Iterable[ChurchExport], *, strict: bool = False) -> int:
    """Delete the files and rows of `exports` (expired ones, or a purged
    church's); `strict`: raise if a file could not be deleted (a purge retries)."""
    files = storage()
    count, failed = 0, []
    for export in list(exports):
        if export.file_name:
            try:
                files.delete(export.file_name)
            except Exception as exc:
                logger.exception("deleting export file %s failed", export.file_name)
                failed.append(exc)
                continue
        export.delete()
        count += 1
    if strict and failed:
        raise failed[0]
    return count


def expire_exports() -> int:
    return remove_exports(ChurchExport.objects.filter(expires_at__lte=timezone.now()))
