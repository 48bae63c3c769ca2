"""A PgBouncer of our own in front of a PostgreSQL server (the tests' and benches').

Transaction pooling, one pool per tenant database and role. Clients log in
with their tenant role's own password, checked against PostgreSQL's
(auth_query, run as the server's admin role), so the pooler keeps the roles'
isolation. The configuration is the one docs/operations.md describes.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from tests.ports import OwnServer, free_port, wait_for_port


class PgBouncer(OwnServer):
    def __init__(
        self,
        server: tuple[str, int],
        admin: str,
        *,
        pool_size: int = 5,
        wait_timeout: int = 10,
        server_idle_timeout: int = 60,
        max_client_conn: int = 500,
    ) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.process: subprocess.Popen | None = None
        host, port = server
        (self.dir / "users.txt").write_text(f'"{admin}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={host} port={port} auth_user={admin}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {self.dir / 'users.txt'}\n"
            "auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=$1\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\nmax_db_connections = {pool_size}\n"
            f"max_client_conn = {max_client_conn}\n"
            f"query_wait_timeout = {wait_timeout}\n"
            f"server_idle_timeout = {server_idle_timeout}\n"
            "server_login_retry = 1\n"
        )

    def url_of(self, server_url: str) -> str:
        """`server_url` with this pooler named in front of it."""
        return f"{server_url}?pooler=127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        # PgBouncer refuses to run as root; it can drop to another user itself.
        user = ["-u", "postgres"] if os.geteuid() == 0 else []
        for path in (self.dir, *self.dir.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.process = subprocess.Popen(
            ["pgbouncer", *user, str(self.dir / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout)
