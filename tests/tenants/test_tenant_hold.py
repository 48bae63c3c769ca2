"""One church's broken database is held alone; its neighbours on the server serve.

The server is held only when a server-level check fails too (tested with a
stopped server in test_placement and a stopped pooler in test_pooler).
"""

from contextlib import contextmanager

import psycopg
import pytest
from django.db import OperationalError
from django.db import connections as django_connections

from tenants import connections, holds
from tenants.context import tenant_context
from tenants.servers.base import ServerUnavailable
from tenants.servers.postgres import PostgresServer
from tests.conftest import make_persona, make_tenant, wait_until

pytestmark = pytest.mark.postgres


@contextmanager
def _admin(tenant):
    server = PostgresServer(tenant.server.connection_url())
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user,
        password=server.password or None, dbname=server.maintenance_db,
        autocommit=True,
    ) as conn:  # fmt: skip
        yield conn


def _disconnect(tenant, conn) -> None:
    """Close every connection this process and the server hold to its database."""
    connections.forget(tenant.alias)
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
        [tenant.database_name],
    )


def _broken_then_fixed(break_sql: str, fix_sql: str, monkeypatch) -> None:
    monkeypatch.setattr(holds, "HOLD_SECONDS", 0.5)
    broken = make_persona(make_tenant("Broken Chapel"))
    neighbour = make_persona(make_tenant("Neighbour Chapel"))
    assert broken.tenant.server_id == neighbour.tenant.server_id
    assert broken.client.get("/api/members").status_code == 200
    assert neighbour.client.get("/api/members").status_code == 200
    names = {"db": broken.tenant.database_name, "role": broken.tenant.database_user}
    with _admin(broken.tenant) as admin:
        _disconnect(broken.tenant, admin)
        admin.execute(break_sql.format(**names))
        try:
            answer = broken.client.get("/api/members")
            assert answer.status_code == 503
            assert answer.json()["code"] == "tenant_unavailable"
            assert answer["Retry-After"]
            assert holds.tenant_is_held(broken.tenant.id)
            assert not holds.is_held(broken.tenant.server_id)
            # The neighbour on the same server is served throughout.
            assert neighbour.client.get("/api/members").status_code == 200
            # While held, the broken church is refused without another attempt.
            assert broken.client.get("/api/members").status_code == 503
        finally:
            admin.execute(fix_sql.format(**names))
    assert wait_until(lambda: broken.client.get("/api/members").status_code == 200)
    assert not holds.tenant_is_held(broken.tenant.id)


def test_a_locked_role_holds_its_church_alone(registry, monkeypatch):
    _broken_then_fixed(
        'ALTER ROLE "{role}" NOLOGIN', 'ALTER ROLE "{role}" LOGIN', monkeypatch
    )


def test_a_missing_database_holds_its_church_alone(registry, monkeypatch):
    _broken_then_fixed(
        'ALTER DATABASE "{db}" RENAME TO "{db}_away"',
        'ALTER DATABASE "{db}_away" RENAME TO "{db}"',
        monkeypatch,
    )


def test_a_failing_server_check_holds_the_whole_server(alice, monkeypatch):
    """The church's database and its server's own check both fail."""
    monkeypatch.setattr(PostgresServer, "ping", _refuse)
    error = OperationalError("connection refused")
    error.__cause__ = psycopg.OperationalError("connection refused")
    server_id = alice.tenant.server_id
    try:
        with tenant_context(alice.tenant):
            django_connections[alice.tenant.alias].errors_occurred = True
            monkeypatch.setattr(holds, "_reachable", lambda tenant, exc: False)
            holds.unavailable(error)
        assert holds.is_held(server_id)
    finally:
        holds.release(server_id)


def _refuse(self) -> None:
    raise ServerUnavailable("refused")
