"""Each request: its id, its metrics and its one access log line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import perf_counter

from django.http import HttpRequest, HttpResponse

from telemetry import metrics
from telemetry.context import HEADER, end, request_id_from, start

access = logging.getLogger("churchtext.access")
# Read from META: `request.headers` would copy every header of every request.
META_KEY = "HTTP_" + HEADER.upper().replace("-", "_")


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered (never the path: it may carry ids)."""
    match = request.resolver_match
    if match is None:
        return "unmatched"
    return match.route or match.view_name or "unnamed"


class RequestMiddleware:
    """First in the chain: everything below logs with this request's id.

    `X-Request-ID` is kept when it is printable ASCII up to 128 characters,
    else replaced by a new one; either way it is echoed in the answer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.META.get(META_KEY))
        token = start(request_id=request_id)
        began = perf_counter()
        try:
            response = self.get_response(request)
            seconds = perf_counter() - began
            response[HEADER] = request_id
            method = request.method if request.method in metrics.METHODS else "OTHER"
            route = route_of(request)
            status = response.status_code
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.request_seconds.labels(method, route).observe(seconds)
            access.info(
                "%s %s %s %.1fms",
                method,
                route,
                status,
                seconds * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            return response
        finally:
            end(token)
