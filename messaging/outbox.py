"""Writing a broadcast's outbox rows in one round trip.

Ten thousand `Message` instances through `bulk_create` cost about a second of
Python (model init and per-field preparation) before PostgreSQL sees a row;
`COPY` takes plain tuples that psycopg adapts itself. Other backends (SQLite,
the embedded default) go through `bulk_create`.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router

from messaging.models import Message

_FIELDS = Message._meta.concrete_fields


def write_outbox(rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (Message attribute names to values) into the tenant's outbox.

    Fields a row leaves out take the model's default, as `Message(**row)` would;
    `auto_now_add` fields have none, so rows name `created_at`.
    """
    alias = router.db_for_write(Message)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        Message.objects.bulk_create([Message(**row) for row in rows], batch_size=1000)
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _FIELDS)
    sql = f"COPY {quote(Message._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    row[field.attname] if field.attname in row else field.get_default()
                    for field in _FIELDS
                ]
            )
