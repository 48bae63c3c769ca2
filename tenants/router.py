"""Tenant apps go to the current tenant's database, everything else to the registry."""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from tenants.context import NoTenantActive, current_alias


class CrossTenantAccess(RuntimeError):
    """An object loaded from one tenant's database was used in another's context."""


def is_tenant_app(app_label: str) -> bool:
    return app_label in settings.TENANT_APPS


class TenantRouter:
    """Fails closed: a tenant model with no tenant raises; never uses `default`."""

    def db_for_read(self, model: type[Model], **hints: object) -> str:
        if not is_tenant_app(model._meta.app_label):
            return DEFAULT_DB_ALIAS
        alias = current_alias()
        if alias is None:
            raise NoTenantActive(
                f"{model._meta.label} is tenant data; enter tenant_context() first."
            )
        instance = hints.get("instance")
        db = getattr(getattr(instance, "_state", None), "db", None)
        if db is not None and db != alias:
            raise CrossTenantAccess(
                f"{model._meta.label} from {db} used in the context of {alias}."
            )
        return alias

    db_for_write = db_for_read

    def allow_relation(self, obj1: Model, obj2: Model, **hints: object) -> bool:
        return (obj1._state.db or DEFAULT_DB_ALIAS) == (
            obj2._state.db or DEFAULT_DB_ALIAS
        )

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return is_tenant_app(app_label) == (db != DEFAULT_DB_ALIAS)
