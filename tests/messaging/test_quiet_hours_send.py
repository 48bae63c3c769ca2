"""A broadcast outside the window is deferred per recipient, never dropped."""

import datetime as dt

import time_machine

from messaging.models import Message
from tenants.context import tenant_context
from tests.messaging.fixtures import add_member, send, set_quiet_hours

NOW = dt.datetime(2026, 7, 15, 13, 0, tzinfo=dt.UTC)  # 09:00 NY, 06:00 AZ, 03:00 HI


def fresh(persona):
    """A client whose token is issued at the (travelled) current time."""
    from rest_framework.test import APIClient

    from accounts.tokens import issue_tokens

    tokens = issue_tokens(user_id=persona.user.id, tenant=persona.tenant, role="owner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


def test_each_recipient_waits_for_their_own_morning(church, outbox):
    client = church.client
    set_quiet_hours(client, "America/New_York")
    phoenix = client.post(
        "/api/branches", {"name": "AZ", "timezone": "America/Phoenix"}, format="json"
    ).json()
    honolulu = client.post(
        "/api/branches", {"name": "HI", "timezone": "Pacific/Honolulu"}, format="json"
    ).json()
    add_member(client, "+14155550101", first_name="NY")
    add_member(client, "+14155550102", first_name="AZ", branch=phoenix["id"])
    add_member(client, "+14155550103", first_name="HI", branch=honolulu["id"])

    with time_machine.travel(NOW, tick=False):
        assert (
            send(
                fresh(church), body="Hi {first_name}", recipients={"all": True}
            ).status_code
            == 202
        )
    assert [m.body for m in outbox] == ["Hi NY"]
    with tenant_context(church.tenant):
        waiting = dict(
            Message.objects.filter(status="queued").values_list("body", "send_after")
        )
    assert waiting == {
        "Hi AZ": dt.datetime(2026, 7, 15, 15, 0, tzinfo=dt.UTC),
        "Hi HI": dt.datetime(2026, 7, 15, 18, 0, tzinfo=dt.UTC),
    }

    from messaging.tasks import sweep_due_task

    with time_machine.travel(NOW + dt.timedelta(hours=2, minutes=1), tick=False):
        sweep_due_task.delay()
    assert sorted(m.body for m in outbox) == ["Hi AZ", "Hi NY"]
    with time_machine.travel(NOW + dt.timedelta(hours=5, minutes=1), tick=False):
        sweep_due_task.delay()
    assert sorted(m.body for m in outbox) == ["Hi AZ", "Hi HI", "Hi NY"]


def test_replies_are_exempt_from_quiet_hours(church, outbox):
    set_quiet_hours(church.client, "Pacific/Honolulu")
    from tests.messaging.test_webhooks import inbound

    with time_machine.travel(NOW, tick=False):  # 03:00 in Honolulu
        client = fresh(church)
        inbound(client, "+14155550101", "Are you open?")
        conversation = client.get("/api/messages/conversations").json()
        thread = conversation["results"][0]["id"]
        reply = client.post(
            f"/api/messages/conversations/{thread}/reply",
            {"body": "Yes!"},
            format="json",
        )
    assert reply.status_code == 201
    assert [m.body for m in outbox] == ["Yes!"]
