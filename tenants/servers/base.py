"""What provisioning, backups and restores need from a database server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from django.conf import settings


class ServerUnavailable(Exception):
    """The database server cannot be reached."""


class ToolMissing(Exception):
    """pg_dump or pg_restore is missing, or older than the server."""


class CopyFailed(Exception):
    """A dump or a restore did not complete; its output says why."""


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

    def dump(self, name: str, target: Path) -> str:
        """Write a backup of database `name` to `target`; the tool's version."""

    def load(self, name: str, user: str, source: Path) -> None:
        """Create database `name` (owned by `user`) from a backup."""

    def fence(self, name: str) -> None:
        """Refuse new connections to `name` and close the open ones."""

    def unfence(self, name: str) -> None: ...

    def swap(self, *, live: str, incoming: str, retired: str) -> None:
        """`incoming` takes `live`'s name; the old `live` is kept as `retired`."""
