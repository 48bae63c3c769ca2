"""Error tracking with Sentry, when SENTRY_DSN is set.

Events carry the church (`tenant_id`) and request id as tags and nothing
personal: no request bodies, cookies, headers with credentials, local
variables or user; phone numbers and tokens are redacted from messages,
exception values and breadcrumbs.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from telemetry.context import current
from telemetry.logs import redact

_KEPT_HEADERS = {"User-Agent", "Content-Type", "Content-Length", "X-Request-Id"}


def init_sentry(dsn: str, *, environment: str, release: str | None = None) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # Personal data stays off (the SDK's default without send_default_pii).
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
    )


def scrub_event(event: Any, hint: Any) -> Any:
    """Sentry's `before_send`: the event, tagged and stripped of personal data."""
    fields = current()
    tags = event.setdefault("tags", {})
    for name in ("tenant_id", "request_id"):
        if name in fields:
            tags[name] = fields[name]
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        for name in ("data", "cookies", "query_string", "env"):
            request.pop(name, None)
        headers = request.get("headers") or {}
        request["headers"] = {k: v for k, v in headers.items() if k in _KEPT_HEADERS}
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = redact(exception["value"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        for name in ("message", "formatted"):
            if isinstance(logentry.get(name), str):
                logentry[name] = redact(logentry[name])
        logentry.pop("params", None)
    if isinstance(event.get("message"), str):
        event["message"] = redact(event["message"])
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values", []) if isinstance(crumbs, dict) else crumbs or []
    for crumb in values:
        scrub_breadcrumb(crumb, {})
    return event


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    if isinstance(crumb.get("message"), str):
        crumb["message"] = redact(crumb["message"])
    data = crumb.get("data")
    if isinstance(data, dict):
        crumb["data"] = {
            k: redact(v) if isinstance(v, str) else v
            for k, v in data.items()
            if k not in ("params",)  # SQL parameters: member data
        }
    return crumb
