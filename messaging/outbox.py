"""The outbox: outbound rows written before any provider call, and which are due.

Writing a broadcast's rows takes one round trip: ten thousand `Message`
instances through `bulk_create` cost about a second of Python (model init and
per-field preparation) before PostgreSQL sees a row;
`COPY` takes plain tuples that psycopg adapts itself. Other backends (SQLite,
the embedded default) go through `bulk_create`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import Q
from django.utils import timezone

from messaging.models import Message

_FIELDS = Message._meta.concrete_fields


def write_outbox(rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (Message attribute names to values) into the tenant's outbox.

    Fields a row leaves out take the model's default, as `Message(**row)` would,
    and `auto_now`/`auto_now_add` fields the current time.
    """
    alias = router.db_for_write(Message)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        Message.objects.bulk_create([Message(**row) for row in rows], batch_size=1000)
        return
    now = timezone.now()
    fill = {
        field.attname: (lambda: now)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        else field.get_default
        for field in _FIELDS
    }
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _FIELDS)
    sql = f"COPY {quote(Message._meta.db_table)} ({columns}) FROM STDIN"
    # The raw psycopg cursor bypasses Django's error translation: restore it, so
    # a lost server is an OperationalError like any other query's.
    with connection.wrap_database_errors, connection.cursor() as cursor:
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[name] if name in row else default()
                        for name, default in fill.items()
                    ]
                )


def stale_after() -> dt.timedelta:
    """How long a row may sit in `sending` before its worker is presumed dead."""
    return dt.timedelta(seconds=settings.SMS_STALE_SENDING_SECONDS)


def due_message_ids(now: dt.datetime, limit: int = 10_000) -> list[uuid.UUID]:
    """Rows to send now: queued and due, or left in `sending` by a dead worker."""
    stale = now - stale_after()
    return list(
        Message.objects.filter(
            Q(status=Message.Status.QUEUED, send_after__lte=now)
            | Q(status=Message.Status.SENDING, attempted_at__lte=stale),
            direction=Message.Direction.OUTBOUND,
        )
        .order_by("send_after")
        .values_list("id", flat=True)[:limit]
    )


def next_due_after(now: dt.datetime) -> dt.datetime | None:
    return (
        Message.objects.filter(status=Message.Status.QUEUED, send_after__gt=now)
        .order_by("send_after")
        .values_list("send_after", flat=True)
        .first()
    )
