"""Celery: a task carries the request id and tenant id of the work that queued
it, logs with them, and is counted by name and outcome."""

from __future__ import annotations

from contextvars import Token
from typing import Any

from celery import signals

from telemetry import metrics
from telemetry.context import bind, current, end, start

_HEADERS = ("request_id", "tenant_id")


@signals.before_task_publish.connect  # type: ignore[untyped-decorator]
def _send_context(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is None:
        return
    fields = current()
    for name in _HEADERS:
        if name in fields:
            headers.setdefault(f"ct_{name}", fields[name])


# The context each running task started, by task id (a worker may run several
# at once in threads).
_started: dict[str, Token[dict[str, str] | None]] = {}


@signals.task_prerun.connect  # type: ignore[untyped-decorator]
def _enter(task_id: str = "", task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    sent = {
        name: value
        for name in _HEADERS
        if (value := getattr(request, f"ct_{name}", None)) is not None
    }
    if getattr(request, "is_eager", False):
        bind(**sent)  # run in the caller's thread: its context is already here
        return
    _started[task_id] = start(**sent)


@signals.task_postrun.connect  # type: ignore[untyped-decorator]
def _leave(
    task_id: str = "", task: Any = None, state: str | None = None, **_: Any
) -> None:
    metrics.tasks.labels(getattr(task, "name", "unknown"), state or "unknown").inc()
    if (token := _started.pop(task_id, None)) is not None:
        end(token)
