"""Tenant servers behind PgBouncer (transaction pooling, one pool per database)."""

import threading

import psycopg
import pytest
from django.conf import settings
from django.db import connections as django_connections

from members.models import Member
from tenants import connections, holds, migrating
from tenants.context import direct_alias, tenant_context
from tenants.models import DatabaseServer
from tenants.servers import database_settings
from tests.conftest import make_persona, make_tenant, start_pgbouncer, wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def pooled(registry):
    """A server row whose tenants are reached through a PgBouncer of the test's."""
    bouncer = start_pgbouncer(pool_size=1, wait_timeout=2)
    direct = settings.TENANT_DB_SERVERS[0].split("?")[0]
    # Not active: only the churches a test places here explicitly live on it.
    server = DatabaseServer.objects.create(
        name="pooled", url=bouncer.url_of(direct), active=False
    )
    yield bouncer, server
    connections.forget_all()
    bouncer.close()


def _through(bouncer, tenant) -> bool:
    config = database_settings(tenant)
    return config["PORT"] == str(bouncer.port)


def test_requests_go_through_the_pooler_and_migrations_past_it(pooled):
    bouncer, server = pooled
    church = make_tenant("Pooled Chapel", server=server)  # migrated directly
    assert _through(bouncer, church)
    direct = database_settings(church, direct=True)
    assert direct["PORT"] != str(bouncer.port)
    assert direct["DISABLE_SERVER_SIDE_CURSORS"] is False
    pastor = make_persona(church)
    created = pastor.client.post(
        "/api/members", {"first_name": "Ann", "phone": "+14155550101"}, format="json"
    )
    assert created.status_code == 201, created.content
    listed = pastor.client.get("/api/members")
    assert [m["first_name"] for m in listed.json()["results"]] == ["Ann"]
    # Nothing session-bound rides the pooler.
    config = django_connections.settings[church.alias]
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"]["prepare_threshold"] is None


def test_the_pooler_keeps_each_role_to_its_own_database(pooled):
    bouncer, server = pooled
    first = make_tenant("First Pooled", server=server)
    second = make_tenant("Second Pooled", server=server)
    mine = database_settings(first)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1", port=bouncer.port, dbname=second.database_name,
            user=mine["USER"], password=mine["PASSWORD"], connect_timeout=5,
        ).close()  # fmt: skip
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1", port=bouncer.port, dbname=first.database_name,
            user=mine["USER"], password="not the password", connect_timeout=5,
        ).close()  # fmt: skip


def test_a_stopped_pooler_fails_its_churches_alone_and_they_recover(
    pooled, tenant_a, monkeypatch
):
    bouncer, server = pooled
    monkeypatch.setattr(holds, "HOLD_SECONDS", 0.5)
    church = make_tenant("Pooled Chapel", server=server)
    pastor, other = make_persona(church), make_persona(tenant_a)
    assert tenant_a.server_id != server.pk
    assert pastor.client.get("/api/members").status_code == 200

    bouncer.stop()
    answer = pastor.client.get("/api/members")
    assert answer.status_code == 503
    assert answer.json()["code"] == "tenant_unavailable"
    assert other.client.get("/api/members").status_code == 200  # its own server

    bouncer.start()
    assert wait_until(lambda: pastor.client.get("/api/members").status_code == 200)


def test_an_exhausted_pool_answers_503_with_retry_after_not_a_hang(pooled):
    bouncer, server = pooled
    church = make_tenant("Busy Chapel", server=server)
    pastor = make_persona(church)
    assert pastor.client.get("/api/members").status_code == 200
    mine = database_settings(church)
    # Another client holds the church's only server connection in a transaction.
    holder = psycopg.connect(
        host="127.0.0.1", port=bouncer.port, dbname=church.database_name,
        user=mine["USER"], password=mine["PASSWORD"], prepare_threshold=None,
    )  # fmt: skip
    holder.execute("BEGIN")
    holder.execute("SELECT 1")
    try:
        answer = pastor.client.get("/api/members")  # waits query_wait_timeout (2 s)
        assert answer.status_code == 503
        assert answer.json()["code"] == "tenant_unavailable"
        assert int(answer["Retry-After"]) > 0
        assert not holds.is_held(server.pk)  # busy, not gone: the server serves
    finally:
        holder.rollback()
        holder.close()
    assert wait_until(lambda: pastor.client.get("/api/members").status_code == 200)


def test_threads_share_the_poolers_server_connections(pooled):
    bouncer, server = pooled
    church = make_tenant("Shared Chapel", server=server)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                with tenant_context(church):
                    Member.objects.count()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_migrations_go_past_the_pooler_while_requests_go_through_it(
    pooled, monkeypatch
):
    bouncer, server = pooled
    church = make_tenant("Serving Chapel", server=server)
    pastor = make_persona(church)
    assert pastor.client.get("/api/members").status_code == 200  # pooled alias
    assert django_connections.settings[church.alias]["PORT"] == str(bouncer.port)
    seen = {}
    real_migrate = migrating.migrate_alias

    def spy(alias):
        seen["port"] = django_connections.settings[alias]["PORT"]
        return real_migrate(alias)

    monkeypatch.setattr(migrating, "migrate_alias", spy)
    assert migrating.migrate_tenant(str(church.id)).ok
    assert seen["port"] != str(bouncer.port)
    assert direct_alias(church) not in django_connections.settings  # forgotten
