"""Start-up invariants: without the router or the middleware, isolation is gone."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from tenants.cache import evicts_keys, redis_cache

ROUTER = "tenants.router.TenantRouter"
MIDDLEWARE = "tenants.middleware.TenantMiddleware"


@register()
def tenancy_installed(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[Error]:
    errors = []
    if ROUTER not in settings.DATABASE_ROUTERS:
        errors.append(
            Error(f"{ROUTER} is missing from DATABASE_ROUTERS.", id="tenants.E001")
        )
    elif settings.DATABASE_ROUTERS[0] != ROUTER:
        errors.append(Error(f"{ROUTER} must be the first router.", id="tenants.E002"))
    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE not in middleware:
        errors.append(
            Error(f"{MIDDLEWARE} is missing from MIDDLEWARE.", id="tenants.E003")
        )
    else:
        # The view-side middleware runs inside the tenant's context.
        auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
        if auth in middleware and middleware.index(auth) < middleware.index(MIDDLEWARE):
            errors.append(
                Error(f"{MIDDLEWARE} must come before {auth}.", id="tenants.E004")
            )
    labels = {config.label for config in apps.get_app_configs()}
    for label in settings.TENANT_APPS:
        if label not in labels:
            errors.append(
                Error(
                    f"TENANT_APPS names {label!r}, which is not installed.",
                    id="tenants.E005",
                )
            )
    for alias, config in settings.DATABASES.items():
        if config.get("ATOMIC_REQUESTS"):
            errors.append(
                Error(
                    f"ATOMIC_REQUESTS on {alias!r} would open every tenant alias.",
                    id="tenants.E006",
                )
            )
    return errors


@register(Tags.caches)
def redis_keeps_keys(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[Warning]:
    backend = redis_cache()
    if backend is not None and evicts_keys(backend):
        return [
            Warning(
                "Redis evicts keys under memory pressure: revoked tokens could pass "
                "until the copy is reloaded. Set maxmemory-policy noeviction.",
                id="tenants.W001",
            )
        ]
    return []
