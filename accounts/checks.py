"""Start-up invariants of identity: the token middleware, and parsable limits."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register

from accounts.limits import parse_limits

TOKENS = "accounts.middleware.TokenMiddleware"
TENANTS = "tenants.middleware.TenantMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"


@register()
def identity_installed(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[Error]:
    errors = []
    middleware = list(settings.MIDDLEWARE)
    if TOKENS not in middleware:
        errors.append(
            Error(f"{TOKENS} is missing from MIDDLEWARE.", id="accounts.E001")
        )
    elif TENANTS in middleware and middleware.index(TENANTS) < middleware.index(TOKENS):
        errors.append(
            Error(f"{TOKENS} must come before {TENANTS}.", id="accounts.E002")
        )
    if (
        TOKENS in middleware
        and SESSIONS in middleware
        and middleware.index(SESSIONS) > middleware.index(TOKENS)
    ):
        # A browsable-API session names its church (accounts.browser).
        errors.append(
            Error(f"{SESSIONS} must come before {TOKENS}.", id="accounts.E004")
        )
    try:
        parse_limits(settings.RATE_LIMITS)
    except ValueError as exc:
        errors.append(Error(f"RATE_LIMITS: {exc}", id="accounts.E003"))
    return errors
