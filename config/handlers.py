"""Django's request handlers, resolving each request's path once.

`accounts.middleware.TokenMiddleware` resolves the path before the view runs
(to learn whether the view serves a tenant) and leaves the match on the
request; these handlers take it instead of resolving the same path again.
That match is made before any tenant is entered: a path converter must not
depend on the tenant (none does).
"""

from __future__ import annotations

from django.core.handlers import asgi, wsgi
from django.http import HttpRequest
from django.urls import ResolverMatch


class ResolvedOnce:
    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        match = request.resolver_match
        if match is not None and not hasattr(request, "urlconf"):
            return match
        return super().resolve_request(request)  # type: ignore[misc,no-any-return]


class WSGIHandler(ResolvedOnce, wsgi.WSGIHandler):
    pass


class ASGIHandler(ResolvedOnce, asgi.ASGIHandler):
    pass
