"""Django's request handlers, resolving each request's path once and never
looking through the tenant aliases for ATOMIC_REQUESTS.

`accounts.middleware.TokenMiddleware` resolves the path before the view runs
(to learn whether the view serves a tenant) and leaves the match on the
request; these handlers take it instead of resolving the same path again.
That match is made before any tenant is entered: a path converter must not
depend on the tenant (none does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.handlers import asgi, wsgi
from django.http import HttpRequest
from django.urls import ResolverMatch


class NoAtomicRequests:
    def make_view_atomic(self, view: Callable[..., Any]) -> Callable[..., Any]:
        # No alias has ATOMIC_REQUESTS (system check tenants.E006); Django's
        # would look through every tenant alias registered in the process.
        return view


class ResolvedOnce:
    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        match = request.resolver_match
        if match is not None and not hasattr(request, "urlconf"):
            return match
        return super().resolve_request(request)  # type: ignore[misc,no-any-return]


class WSGIHandler(NoAtomicRequests, ResolvedOnce, wsgi.WSGIHandler):
    pass


class ASGIHandler(NoAtomicRequests, ResolvedOnce, asgi.ASGIHandler):
    pass
