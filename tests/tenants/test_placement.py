"""Tenants spread over two PostgreSQL servers; one going down spares the other."""

import time
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tenants import holds
from tenants.models import DatabaseServer
from tests.conftest import make_persona, make_tenant

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_servers(registry, second_postgres, settings):
    settings.TENANT_DB_SERVERS = [*settings.TENANT_DB_SERVERS, second_postgres.url]
    yield second_postgres
    if _down(second_postgres):
        second_postgres.start()


def _inbound(number: str):
    form = {
        "From": "+14155550100",
        "To": number,
        "Body": "hello",
        "MessageSid": f"SM{uuid.uuid4().hex}",
    }
    return APIClient().post("/api/webhooks/sms/inbound", form)


def _down(cluster) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", cluster.port), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_tenants_spread_and_a_stopped_server_spares_the_other(two_servers, monkeypatch):
    tenants = [make_tenant(f"Church {i}") for i in range(4)]
    by_server = {}
    for tenant in tenants:
        by_server.setdefault(tenant.server.url, []).append(tenant)
    assert set(by_server) == {settings.TENANT_DB_SERVERS[0], two_servers.url}
    assert sorted(len(v) for v in by_server.values()) == [2, 2]

    up = [make_persona(t) for t in by_server[settings.TENANT_DB_SERVERS[0]]]
    down = [make_persona(t) for t in by_server[two_servers.url]]
    member = {"first_name": "Ann", "phone": "+14155550100"}
    numbers = {}
    for i, persona in enumerate(up + down):
        assert (
            persona.client.post("/api/members", member, format="json").status_code
            == 201
        )
        numbers[persona.tenant.id] = f"+1415555020{i}"
        church = {"phone_number": numbers[persona.tenant.id]}
        response = persona.client.patch("/api/tenant", church, format="json")
        assert response.status_code == 200

    two_servers.stop()

    for persona in up:
        assert persona.client.get("/api/members").json()["count"] == 1
    for persona in down:
        response = persona.client.get("/api/members")
        assert response.status_code == 503
        assert response.json()["code"] == "tenant_unavailable"
        assert response["Retry-After"]
    for persona in up:  # still fine after the failures
        assert persona.client.get("/api/members").status_code == 200

    # The other door in, a provider webhook to the church's number, says the same.
    for persona, expected in [(p, 503) for p in down] + [(p, 200) for p in up]:
        for _ in range(2):  # the first waits for the server, the second fails fast
            response = _inbound(numbers[persona.tenant.id])
            assert response.status_code == expected
            if expected == 503:
                assert response.json()["code"] == "tenant_unavailable"

    monkeypatch.setattr(holds, "HOLD_SECONDS", 0.2)
    for server_id in {t.server_id for t in by_server[two_servers.url]}:
        holds.hold(server_id)
    two_servers.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if down[0].client.get("/api/members").status_code == 200:
            break
        time.sleep(0.2)
    assert down[0].client.get("/api/members").json()["count"] == 1
    assert DatabaseServer.objects.count() == 2
