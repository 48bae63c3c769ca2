"""Enter the tenant of the verified token for the whole request (and its stream)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, cast

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import Resolver404, resolve

from config.errors import (
    ApiError,
    ServiceUnavailable,
    TenantUnavailable,
    error_response,
)
from tenants.auth import bearer_token, check_named_tenant, identity_from_token
from tenants.context import tenant_context
from tenants.health import mark_server_up, server_is_down
from tenants.models import Tenant

if TYPE_CHECKING:
    from tenants.auth import Identity

    class _TenantHttpRequest(HttpRequest):
        """The attributes this middleware sets on the request (read in tenants.auth)."""

        identity: Identity
        auth_error: ApiError


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = bearer_token(request)
        if raw is None or not _uses_tenant(request):
            return self.get_response(request)
        try:
            identity = identity_from_token(raw)
            check_named_tenant(request.headers.get("X-Tenant-ID"), identity.tenant)
            check_named_tenant(request.GET.get("tenant"), identity.tenant)
        except DatabaseError:
            # The registry itself is unreachable: nobody can be identified.
            return error_response(ServiceUnavailable(headers={"Retry-After": "10"}))
        except ApiError as exc:
            if exc.status_code == 401:
                # Views that take no token (login, refresh) ignore a stale one;
                # the others raise it from DRF authentication.
                cast("_TenantHttpRequest", request).auth_error = exc
                return self.get_response(request)
            return error_response(exc)
        tenant = identity.tenant
        if server_is_down(tenant.server_id):
            return error_response(TenantUnavailable())
        cast("_TenantHttpRequest", request).identity = identity
        with tenant_context(tenant):
            response = self.get_response(request)
        if response.status_code < 500:
            mark_server_up(tenant.server_id)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _stream_in(tenant, response.streaming_content)
        return response


def _uses_tenant(request: HttpRequest) -> bool:
    """Views marked `uses_tenant = False` (register, login, webhooks...) run in none.

    They pick or create tenants themselves; a token a client sends along must
    not put them inside another tenant.
    """
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True
    view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    return getattr(view or match.func, "uses_tenant", True)


def _stream_in(tenant: Tenant, content: Iterator[bytes]) -> Iterator[bytes]:
    """Streamed bodies are produced after the view returns: re-enter the tenant."""
    with tenant_context(tenant):
        yield from content
