"""Serve each request inside the tenant its verified token named, stream included.

`accounts.middleware.TokenMiddleware` runs first: it verifies the token and
sets `request.tenant`. This middleware only enters that tenant (through
`serving`, which refuses at once while the tenant's server is held) and keeps
it entered while a streamed body is produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from api.responses import error_response
from tenants.context import tenant_context
from tenants.errors import TenantUnavailable
from tenants.holds import serving
from tenants.models import Tenant


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant: Tenant | None = getattr(request, "tenant", None)
        if tenant is None:
            return self.get_response(request)
        try:
            with serving(tenant) as visit:
                response = self.get_response(request)
                visit.ok = response.status_code < 500
        except TenantUnavailable as exc:
            return error_response(exc)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _stream_in(tenant, response.streaming_content)
        return response


def _stream_in(tenant: Tenant, content: Iterator[bytes]) -> Iterator[bytes]:
    """Streamed bodies are produced after the view returns: re-enter the tenant."""
    with tenant_context(tenant):
        yield from content
