"""What every log line, metric and error report of this work belongs to.

A request (or a task) starts a context with its `request_id`; the layers that
learn more bind it as they go (`tenant_id`, `user_id`). Celery carries the
request id and tenant id to the tasks a request queued (`telemetry.tasks`).
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

_fields: ContextVar[dict[str, str] | None] = ContextVar("telemetry", default=None)

# Printable ASCII without spaces, as a proxy or load balancer would send it.
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
HEADER = "X-Request-ID"


def request_id_from(value: str | None) -> str:
    """`value` when it is a reasonable id, else a new one (never echoes junk)."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def start(**fields: str) -> Token[dict[str, str] | None]:
    """A new context for a request or a task; `end` it with the token."""
    return _fields.set(dict(fields))


def end(token: Token[dict[str, str] | None]) -> None:
    _fields.reset(token)


def bind(**fields: str) -> None:
    """Add what was learnt (a tenant, a user) to the current context."""
    current = _fields.get()
    if current is None:
        _fields.set(dict(fields))
    else:
        current.update(fields)


def current() -> dict[str, str]:
    return _fields.get() or {}
