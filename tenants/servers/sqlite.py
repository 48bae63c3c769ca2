"""Tenant databases as SQLite files in one directory (the embedded default)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from django.conf import settings

from tenants.servers.base import ServerUnavailable, template_name


class SQLiteServer:
    def __init__(self, url: str) -> None:
        path = url.removeprefix("sqlite://").removeprefix("/")
        directory = Path(path)
        if not directory.is_absolute():
            directory = Path(settings.BASE_DIR) / directory
        self.directory = directory

    def _file(self, name: str) -> Path:
        return self.directory / f"{name}.sqlite3"

    def ping(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServerUnavailable(str(exc)) from exc
        if not os.access(self.directory, os.W_OK):
            raise ServerUnavailable(f"{self.directory} is not writable")

    def tenant_settings(
        self, name: str, user: str = "", password: str = "", *, direct: bool = False
    ) -> dict[str, Any]:
        # mode=rw: a missing file is an error, not a new empty database.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": f"file:{self._file(name)}?mode=rw",
            "OPTIONS": dict(settings.SQLITE_OPTIONS),
        }

    def template_settings(self) -> dict[str, Any]:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(self._file(template_name())),
            "OPTIONS": dict(settings.SQLITE_OPTIONS),
        }

    def open_template(self) -> None:
        self.ping()

    def close_template(self) -> None:
        # Fold the WAL into the main file so that a backup copy sees everything.
        with sqlite3.connect(self._file(template_name())) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()

    def clone_template(self, *, name: str, user: str = "", password: str = "") -> None:
        self.ping()
        source = self._file(template_name())
        if not source.exists():
            raise FileNotFoundError(f"template {source} is missing")
        target = self._file(name)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        partial = self.directory / f".{name}.partial"
        _copy(f"file:{source}?mode=ro", str(partial))
        os.replace(partial, target)  # the database appears whole or not at all

    def create_database(self, *, name: str, user: str = "", password: str = "") -> None:
        self.ping()
        target = self._file(name)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        sqlite3.connect(target).close()

    def drop_database(self, *, name: str, user: str = "") -> None:
        base = self._file(name)
        for path in (
            base,
            Path(f"{base}-wal"),
            Path(f"{base}-shm"),
            self.directory / f".{name}.partial",
        ):
            path.unlink(missing_ok=True)

    def database_exists(self, name: str) -> bool:
        return self._file(name).exists()

    def list_databases(self) -> set[str]:
        if not self.directory.exists():
            return set()
        prefix = settings.TENANT_DB_PREFIX
        names = {
            p.name.removesuffix(".sqlite3")
            for p in self.directory.glob(f"{prefix}*.sqlite3")
        }
        names |= {
            p.name[1:].removesuffix(".partial")
            for p in self.directory.glob(f".{prefix}*.partial")
        }
        names.discard(template_name())
        return names

    # --- copies: backups, restores ---------------------------------------------
    # No separate server: a file is fenced by this process's lock on it, and a
    # swap writes into the live file through SQLite's backup API, so that other
    # connections to it see the new content (not a renamed inode).

    def dump(self, name: str, target: Path) -> str:
        _copy(f"file:{self._file(name)}?mode=ro", str(target))
        return f"sqlite3 {sqlite3.sqlite_version}"

    def load(self, name: str, user: str, source: Path) -> None:
        target = self._file(name)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        _copy(f"file:{source}?mode=ro", str(target))

    def fence(self, name: str) -> None:
        pass

    def unfence(self, name: str) -> None:
        pass

    def swap(self, *, live: str, incoming: str, retired: str) -> None:
        _copy(f"file:{self._file(live)}?mode=ro", str(self._file(retired)))
        _copy(f"file:{self._file(incoming)}?mode=ro", str(self._file(live)))
        self.drop_database(name=incoming)


def _copy(source_uri: str, target: str) -> None:
    """Copy a whole database with SQLite's online backup API."""
    src = sqlite3.connect(source_uri, uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
