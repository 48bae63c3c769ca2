"""Tenant databases on a PostgreSQL server, each owned by its own login role.

The template's objects belong to a NOLOGIN role; a clone hands them to the
tenant's role (REASSIGN OWNED), and CONNECT is revoked from PUBLIC, so a
tenant's credentials open its own database and no other.

A server URL may name a connection pooler in front of the server,
`postgres://admin@db:5432/postgres?pooler=db:6432` (PgBouncer in transaction
mode, docs/operations.md). Tenant connections then go through the pooler, with
nothing session-bound: no server-side cursors and no prepared statements.
Everything that administers the server (roles, CREATE/DROP DATABASE, the
template, the reconciler's checks) and tenant migrations (`direct=True`)
connect to the server itself.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from django.conf import settings
from psycopg import errors, sql

from tenants.servers.base import (
    CopyFailed,
    ServerUnavailable,
    ToolMissing,
    template_name,
)

CONNECT_TIMEOUT = 3
CLONE_ATTEMPTS = 20


def _zone() -> str:
    """The session time zone Django wants (what its `timezone_name` gives)."""
    return "UTC" if settings.USE_TZ else settings.TIME_ZONE


class PostgresServer:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = str(parts.port or 5432)
        self.user = unquote(parts.username or "postgres")
        self.password = unquote(parts.password or "")
        self.maintenance_db = parts.path.lstrip("/") or "postgres"
        pooler = parse_qs(parts.query).get("pooler", [""])[-1]
        host, _, port = pooler.rpartition(":") if ":" in pooler else (pooler, "", "")
        self.pooler = (host or self.host, port or "6432") if pooler else None

    @property
    def template_owner(self) -> str:
        return f"{settings.TENANT_DB_PREFIX}template_owner"

    @contextmanager
    def _connect(self, dbname: str | None = None) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=dbname or self.maintenance_db,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
            )
        except psycopg.OperationalError as exc:
            raise ServerUnavailable(f"{self.host}:{self.port}: {exc}") from exc
        try:
            yield conn
        finally:
            conn.close()

    def ping(self) -> None:
        """The server answers its admin; a pooler in front accepts connections."""
        with self._connect() as conn:
            conn.execute("SELECT 1")
        if self.pooler is not None:
            try:
                socket.create_connection(self.pooler, timeout=CONNECT_TIMEOUT).close()
            except OSError as exc:
                raise ServerUnavailable(f"pooler {self.pooler}: {exc}") from exc

    def tenant_settings(
        self, name: str, user: str, password: str, *, direct: bool = False
    ) -> dict[str, Any]:
        host, port = (self.host, self.port)
        options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
        pooled = self.pooler is not None and not direct
        if pooled:
            host, port = self.pooler  # type: ignore[misc]
            # A transaction-mode pooler hands each transaction any server
            # connection: statements prepared on one are unknown on the next.
            options["prepare_threshold"] = None
        else:
            # Django sends SET TIME ZONE on each new connection whose zone is
            # not its own (a server in Etc/UTC is not "UTC"): one round trip
            # per cold tenant, saved by asking for the zone at startup.
            options["options"] = f"-c TimeZone={_zone()}"
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": user or self.user,
            "PASSWORD": password if user else self.password,
            "HOST": host,
            "PORT": port,
            # Kept open by the thread that opened it (tenants.connections
            # bounds how many); no pool and no pool threads per tenant.
            "CONN_MAX_AGE": None,
            # Server-side cursors live in a session; a pooler has none.
            "DISABLE_SERVER_SIDE_CURSORS": pooled,
            "OPTIONS": options,
        }

    def template_settings(self) -> dict[str, Any]:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": template_name(),
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
            "OPTIONS": {
                "connect_timeout": CONNECT_TIMEOUT,
                "assume_role": self.template_owner,
            },
        }

    def _exists(self, conn: psycopg.Connection, name: str) -> bool:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return row.fetchone() is not None

    def open_template(self) -> None:
        tmpl, owner = (
            sql.Identifier(template_name()),
            sql.Identifier(self.template_owner),
        )
        with self._connect() as conn:
            try:
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
            except errors.DuplicateObject:
                pass
            if not self._exists(conn, template_name()):
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(tmpl)
                )
                with self._connect(template_name()) as tconn:
                    tconn.execute(
                        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(
                            owner
                        )
                    )
            # Migrations may create trusted extensions (pg_trgm for search).
            conn.execute(
                sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(tmpl, owner)
            )
            conn.execute(
                sql.SQL(
                    "ALTER DATABASE {} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true"
                ).format(tmpl)
            )

    def close_template(self) -> None:
        tmpl = sql.Identifier(template_name())
        with self._connect() as conn:
            conn.execute(
                sql.SQL(
                    "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"
                ).format(tmpl)
            )

    def _create_role(self, conn: psycopg.Connection, user: str, password: str) -> None:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )

    def clone_template(self, *, name: str, user: str, password: str) -> None:
        ident, role = sql.Identifier(name), sql.Identifier(user)
        with self._connect() as conn:
            self._create_role(conn, user, password)
            create = sql.SQL(
                "CREATE DATABASE {} OWNER {} TEMPLATE {} STRATEGY WAL_LOG"
            ).format(ident, role, sql.Identifier(template_name()))
            for attempt in range(CLONE_ATTEMPTS):
                try:
                    conn.execute(create)
                    break
                except errors.ObjectInUse:
                    # Someone is connected to the template (it is being migrated).
                    if attempt == CLONE_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        with self._connect(name) as conn:
            owner = sql.Identifier(self.template_owner)
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(owner, role))
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(owner))

    def create_database(self, *, name: str, user: str, password: str) -> None:
        ident, role = sql.Identifier(name), sql.Identifier(user)
        with self._connect() as conn:
            self._create_role(conn, user, password)
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    ident, role
                )
            )
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))

    def drop_database(self, *, name: str, user: str) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
            if user:
                conn.execute(
                    sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user))
                )

    def database_exists(self, name: str) -> bool:
        with self._connect() as conn:
            return self._exists(conn, name)

    def list_databases(self) -> set[str]:
        prefix = settings.TENANT_DB_PREFIX.replace("_", r"\_")
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s "
                "UNION SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                [f"{prefix}%", f"{prefix}%"],
            ).fetchall()
        names = {row[0] for row in rows}
        names.discard(template_name())
        names.discard(self.template_owner)
        return names

    # --- copies: backups, restores, moves -------------------------------------

    def _tool(self, name: str) -> str:
        """`name` (pg_dump, pg_restore), refused if older than the server."""
        path = shutil.which(name)
        if path is None:
            raise ToolMissing(
                f"{name} is not installed (the PostgreSQL client package)."
            )
        printed = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
        tool_major = int(re.search(r"(\d+)(?:\.\d+)?", printed).group(1))  # type: ignore[union-attr]
        with self._connect() as conn:
            server_num = int(_one(conn.execute("SHOW server_version_num"))[0])
        if tool_major < server_num // 10000:
            raise ToolMissing(
                f"{printed.strip()} is older than the server ({server_num // 10000}); "
                "install the matching PostgreSQL client."
            )
        return printed.strip()

    def _run(self, args: list[str]) -> None:
        env = {**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"}
        done = subprocess.run(args, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise CopyFailed(f"{Path(args[0]).name}: {done.stderr.strip()[-2000:]}")

    def _login(self) -> list[str]:
        return ["--host", self.host, "--port", self.port, "--username", self.user]

    def dump(self, name: str, target: Path, *, schema_only: bool = False) -> str:
        """A custom-format dump of database `name`; returns the tool's version."""
        tool = self._tool("pg_dump")
        self._run([shutil.which("pg_dump") or "pg_dump", *self._login(),
                   "--format=custom", "--file", str(target), "--dbname", name,
                   *(["--schema-only"] if schema_only else [])])  # fmt: skip
        return tool

    def load(self, name: str, user: str, source: Path) -> None:
        """Create database `name`, owned by `user`, from a dump of `dump`."""
        self._tool("pg_restore")
        ident, role = sql.Identifier(name), sql.Identifier(user)
        with self._connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    ident, role
                )
            )
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        # Objects are created as the tenant's role, so that it owns them as a
        # clone's role does; grants and owners in the dump are not replayed.
        self._run([shutil.which("pg_restore") or "pg_restore", *self._login(),
                   "--no-owner", "--no-privileges", "--role", user,
                   "--exit-on-error", "--dbname", name, str(source)])  # fmt: skip

    def fence(self, name: str) -> None:
        """No new connections to `name`, and its open ones closed (rolled back)."""
        with self._connect() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )

    def unfence(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                    sql.Identifier(name)
                )
            )

    def swap(self, *, live: str, incoming: str, retired: str) -> None:
        """Put `incoming` in `live`'s place; `live` becomes `retired`, fenced."""
        self.fence(live)
        self.fence(incoming)
        try:
            with self._connect() as conn, conn.transaction():  # both or neither
                rename = sql.SQL("ALTER DATABASE {} RENAME TO {}")
                conn.execute(
                    rename.format(sql.Identifier(live), sql.Identifier(retired))
                )
                conn.execute(
                    rename.format(sql.Identifier(incoming), sql.Identifier(live))
                )
        except BaseException:
            self.unfence(live)  # nothing was swapped: the live one serves again
            raise
        self.unfence(live)

    # --- moves: logical replication from this server to another ------------------

    def wal_level(self) -> str:
        with self._connect() as conn:
            return str(_one(conn.execute("SHOW wal_level"))[0])

    def ensure_role(self, user: str, password: str) -> None:
        with self._connect() as conn:
            try:
                self._create_role(conn, user, password)
            except errors.DuplicateObject:
                conn.execute(
                    sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(user), sql.Literal(password)
                    )
                )

    def conninfo(self, name: str) -> str:
        """How another server reaches database `name` here (as this admin)."""
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user,
            password=self.password or None, dbname=name,
        )  # fmt: skip

    def publish(self, name: str, publication: str) -> None:
        with self._connect(name) as conn:
            conn.execute(
                sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(
                    sql.Identifier(publication)
                )
            )

    def subscribe(self, name: str, subscription: str, source: str) -> None:
        """Copy `name` from `source` (a conninfo) and follow its changes; the
        publication and the replication slot on the source are `subscription`."""
        with self._connect(name) as conn:
            conn.execute(
                sql.SQL(
                    "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} "
                    "WITH (copy_data = true, slot_name = {})"
                ).format(
                    sql.Identifier(subscription), sql.Literal(source),
                    sql.Identifier(subscription), sql.Literal(subscription),
                )
            )  # fmt: skip

    def subscription_copied(self, name: str, subscription: str) -> bool:
        """Every table's initial copy is done and the subscription streams."""
        with self._connect(name) as conn:
            waiting = _one(
                conn.execute(
                    "SELECT count(*) FROM pg_subscription_rel r "
                    "JOIN pg_subscription s ON s.oid = r.srsubid "
                    "WHERE s.subname = %s AND r.srsubstate <> 'r'",
                    [subscription],
                )
            )[0]
        return bool(waiting == 0)

    def current_lsn(self) -> str:
        with self._connect() as conn:
            return str(_one(conn.execute("SELECT pg_current_wal_lsn()"))[0])

    def slot_caught_up(self, slot: str, lsn: str) -> bool:
        """The subscriber confirmed everything up to `lsn` on this server."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots "
                "WHERE slot_name = %s",
                [lsn, slot],
            ).fetchone()
        return bool(row and row[0])

    def lock_role(self, user: str) -> None:
        """The role logs in no more, and its sessions end (rolled back)."""
        with self._connect() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(user)))
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = %s",
                [user],
            )

    def unlock_role(self, user: str) -> None:
        with self._connect() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(user)))

    def sequences(self, name: str) -> list[tuple[str, int, bool]]:
        """Each sequence's (qualified name, last value, is_called): logical
        replication copies rows, not sequences."""
        with self._connect(name) as conn:
            found = conn.execute(
                "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences"
            ).fetchall()
            return [
                (seq, *_one(conn.execute(
                    sql.SQL("SELECT last_value, is_called FROM {}").format(
                        sql.SQL(seq)
                    )
                )))
                for (seq,) in found
            ]  # fmt: skip

    def set_sequences(self, name: str, values: list[tuple[str, int, bool]]) -> None:
        with self._connect(name) as conn:
            for seq, last, called in values:
                conn.execute("SELECT setval(%s::regclass, %s, %s)", [seq, last, called])

    def drop_subscription(self, name: str, subscription: str) -> None:
        """Drop it and its slot on the source; if the source does not answer,
        drop it alone (`drop_slot` there later)."""
        ident = sql.Identifier(subscription)
        with self._connect(name) as conn:
            try:
                conn.execute(sql.SQL("DROP SUBSCRIPTION IF EXISTS {}").format(ident))
            except psycopg.OperationalError:
                conn.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(ident))
                conn.execute(
                    sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(
                        ident
                    )
                )
                conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(ident))

    def drop_slot(self, slot: str) -> None:
        """A replication slot left by a subscription dropped without it."""
        with self._connect() as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND NOT active",
                [slot],
            )

    def drop_publication(self, name: str, publication: str) -> None:
        with self._connect(name) as conn:
            conn.execute(
                sql.SQL("DROP PUBLICATION IF EXISTS {}").format(
                    sql.Identifier(publication)
                )
            )


def _one(cursor: Any) -> tuple[Any, ...]:
    """The one row a query answers (a statement that always returns one)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the server answered no row")
    return tuple(row)
