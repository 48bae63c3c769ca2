"""The tenant of a request comes from its verified access token, and nowhere else.

For a request with a bearer token to a view that runs in a tenant, this sets
`request.identity` and `request.tenant`; `tenants.middleware.TenantMiddleware`
then serves the request inside that tenant. Views marked `uses_tenant = False`
(register, login, the provider webhooks, the probes) pick or create tenants
themselves, so a token sent along is not even read for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from django.contrib.sessions.backends.base import SessionBase
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from accounts.browser import SESSION_KEY, identity_from_session
from accounts.tokens import bearer_token, check_named_tenant, identity_from_token
from api.errors import DomainError, ServiceUnavailable
from api.responses import error_response
from telemetry.context import bind

if TYPE_CHECKING:
    from accounts.tokens import Identity
    from tenants.models import Tenant

    class _TokenHttpRequest(HttpRequest):
        """What this middleware sets on the request."""

        identity: Identity
        tenant: Tenant
        auth_error: DomainError


class TokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = bearer_token(request)
        session = None if raw is not None else _signed_in(request)
        if (raw is None and session is None) or not _uses_tenant(request):
            return self.get_response(request)
        marked = cast("_TokenHttpRequest", request)
        try:
            if raw is not None:
                identity = identity_from_token(raw)
            else:
                identity = identity_from_session(cast(SessionBase, session))
            check_named_tenant(request.META.get("HTTP_X_TENANT_ID"), identity.tenant)
            check_named_tenant(request.GET.get("tenant"), identity.tenant)
        except DatabaseError:
            # The registry itself is unreachable: nobody can be identified.
            return error_response(ServiceUnavailable())
        except DomainError as exc:
            if session is not None and exc.status == 401:
                session.pop(SESSION_KEY, None)  # revoked: sign in again
            if exc.status == 401:
                # Views that take no token (login, refresh) ignore a stale one;
                # the others raise it from DRF authentication.
                marked.auth_error = exc
                return self.get_response(request)
            return error_response(exc)
        marked.identity = identity
        marked.tenant = identity.tenant
        bind(tenant_id=str(identity.tenant.id), user_id=str(identity.user_id))
        return self.get_response(request)


def _signed_in(request: HttpRequest) -> SessionBase | None:
    """The browser session when it holds a church (`accounts.browser`)."""
    session = getattr(request, "session", None)
    if session is None or not session.session_key:
        return None  # no cookie: nothing to read, no query
    return session if session.get(SESSION_KEY) else None


def _uses_tenant(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True
    request.resolver_match = match  # the handler need not resolve it again
    view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    return getattr(view or match.func, "uses_tenant", True)
