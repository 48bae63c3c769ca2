"""Tenants spread over two PostgreSQL servers; one going down spares the other."""

import time
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from messaging.backlog import replay_kept_webhooks_task
from messaging.models import Message
from tenants import holds
from tenants.context import tenant_context
from tenants.models import DatabaseServer, PendingWebhook
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

    # The other door in, a provider webhook to the church's number: the message
    # is kept for the down server's churches (the provider never sends it
    # again), received at once by the others.
    for persona in down + up:
        for _ in range(2):  # the first waits for the server, the second is held
            response = _inbound(numbers[persona.tenant.id])
            assert response.status_code == 200
    for persona in down:
        assert PendingWebhook.objects.filter(tenant=persona.tenant).count() == 2
    for persona in up:
        assert not PendingWebhook.objects.filter(tenant=persona.tenant).exists()

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
    # What was kept for the down server's churches arrives once it is back.
    holds.release(down[0].tenant.server_id)
    replay_kept_webhooks_task()
    assert not PendingWebhook.objects.exists()
    for persona in down:
        with tenant_context(persona.tenant):
            assert Message.objects.filter(direction="inbound").count() == 2
