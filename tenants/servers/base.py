"""What provisioning needs from a database server."""

from __future__ import annotations

from typing import Any, Protocol

from django.conf import settings


class ServerUnavailable(Exception):
    """The database server cannot be reached."""


def template_name() -> str:
    return f"{settings.TENANT_DB_PREFIX}template"


class ServerBackend(Protocol):
    def ping(self) -> None:
        """Raise ServerUnavailable unless the server answers."""

    def tenant_settings(
        self, name: str, user: str, password: str, *, direct: bool = False
    ) -> dict[str, Any]:
        """Django settings for one tenant database (`direct`: past any pooler)."""

    def template_settings(self) -> dict[str, Any]:
        """Django settings for migrating the template database."""

    def open_template(self) -> None:
        """Make the template connectable (creating it if missing) for migrating."""

    def close_template(self) -> None:
        """Lock the template again so that it can be cloned."""

    def clone_template(self, *, name: str, user: str, password: str) -> None:
        """Create database `name` (and its login role) as a copy of the template."""

    def create_database(self, *, name: str, user: str, password: str) -> None:
        """Create an empty database `name` (and its login role)."""

    def drop_database(self, *, name: str, user: str) -> None:
        """Drop database `name` and its role; no error when already gone."""

    def database_exists(self, name: str) -> bool: ...

    def list_databases(self) -> set[str]:
        """Names of the tenant databases (prefixed names) present on the server."""
