"""GET /metrics: the Prometheus exposition, for a scraper that proves who it is.

Reachable with `Authorization: Bearer <METRICS_TOKEN>` or from an address in
`METRICS_ALLOW`; neither configured means nobody.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import NotAuthenticated

from api.responses import error_response
from telemetry.metrics import exposition


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    return request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOW


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        response = error_response(NotAuthenticated("A metrics token is required."))
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


metrics_view.uses_tenant = False  # type: ignore[attr-defined]  # its own token
