"""Django's request handlers, resolving each request's path once and looking
for ATOMIC_REQUESTS in settings.DATABASES only, not every tenant alias.

`accounts.middleware.TokenMiddleware` resolves the path before the view runs
(to learn whether the view serves a tenant) and leaves the match on the
request; these handlers take it instead of resolving the same path again.
That match is made before any tenant is entered: a path converter must not
depend on the tenant (none does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.handlers import asgi, wsgi
from django.db import transaction
from django.http import HttpRequest
from django.urls import ResolverMatch


class StaticAtomicRequests:
    def make_view_atomic(self, view: Callable[..., Any]) -> Callable[..., Any]:
        # Django's looks through every alias registered in the process; only
        # settings.DATABASES' can have ATOMIC_REQUESTS (tenants.connections
        # registers tenants without it; system check tenants.E006 refuses it).
        skipped: set[str] = getattr(view, "_non_atomic_requests", set())
        for alias, config in settings.DATABASES.items():
            if config.get("ATOMIC_REQUESTS") and alias not in skipped:
                view = transaction.atomic(using=alias)(view)
        return view


class ResolvedOnce:
    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        match = request.resolver_match
        if match is not None and not hasattr(request, "urlconf"):
            return match
        return super().resolve_request(request)  # type: ignore[misc,no-any-return]


class WSGIHandler(StaticAtomicRequests, ResolvedOnce, wsgi.WSGIHandler):
    pass


class ASGIHandler(StaticAtomicRequests, ResolvedOnce, asgi.ASGIHandler):
    pass
