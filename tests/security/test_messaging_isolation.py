"""Messaging across tenants: ids, lists, and webhooks that pick a tenant by number."""

import pytest
from rest_framework.test import APIClient

from messaging.models import Conversation, Message
from tenants.context import tenant_context
from tests.messaging.fixtures import CHURCH_NUMBER, add_member, send
from tests.messaging.test_webhooks import inbound

B_NUMBER = "+14155550900"


@pytest.fixture
def b_church(bob, outbox):
    bob.client.patch(
        "/api/tenant", {"phone_number": B_NUMBER, "quiet_hours": None}, format="json"
    )
    bob.tenant.refresh_from_db()
    add_member(bob.client, "+14155550123", first_name="Secret")
    sent = send(bob.client, body="B secret", recipients={"all": True}).json()
    inbound(bob.client, "+14155550123", "B private reply", to=B_NUMBER)
    recurring = bob.client.post(
        "/api/messages/recurring",
        {
            "body": "B weekly",
            "recipients": {"all": True},
            "schedule": {"frequency": "daily", "time": "09:00"},
        },
        format="json",
    ).json()
    conversation = bob.client.get("/api/messages/conversations").json()["results"][0]
    return {
        "broadcast": sent["id"],
        "conversation": conversation["id"],
        "recurring": recurring["id"],
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/messages/broadcasts/{broadcast}"),
        ("post", "/api/messages/broadcasts/{broadcast}/cancel"),
        ("get", "/api/messages/conversations/{conversation}"),
        ("patch", "/api/messages/conversations/{conversation}"),
        ("post", "/api/messages/conversations/{conversation}/reply"),
        ("post", "/api/messages/conversations/{conversation}/read"),
        ("get", "/api/messages/recurring/{recurring}"),
        ("patch", "/api/messages/recurring/{recurring}"),
        ("delete", "/api/messages/recurring/{recurring}"),
    ],
)
def test_another_tenants_messaging_ids_are_not_found(church, b_church, method, path):
    response = getattr(church.client, method)(
        path.format(**b_church), {"body": "pwned", "status": "closed"}, format="json"
    )
    assert response.status_code == 404
    assert b"secret" not in response.content.lower()


def test_lists_and_history_hold_only_own_messages(church, b_church):
    for path in (
        "/api/messages/broadcasts",
        "/api/messages/conversations",
        "/api/messages/history",
        "/api/messages/recurring",
    ):
        response = church.client.get(path)
        assert response.json()["count"] == 0, path
        assert b"Secret" not in response.content


def test_an_inbound_message_to_as_number_never_reaches_b(church, bob, outbox):
    inbound(church.client, "+14155550123", "for A only", to=CHURCH_NUMBER)
    with tenant_context(bob.tenant):
        assert not Message.objects.filter(body="for A only").exists()
        assert not Conversation.objects.exists()
    with tenant_context(church.tenant):
        assert Message.objects.filter(body="for A only").count() == 1


def test_a_stop_to_as_number_does_not_opt_out_of_b(church, bob, b_church):
    add_member(church.client, "+14155550123")
    inbound(church.client, "+14155550123", "STOP", to=CHURCH_NUMBER)
    response = send(church.client, body="x", recipients={"all": True})
    assert response.status_code == 400  # A's only member opted out of A
    still = send(bob.client, body="still B", recipients={"all": True})
    assert still.status_code == 202  # the same phone is still subscribed to B


def test_a_status_callback_for_as_message_never_touches_b(church, bob, b_church):
    add_member(church.client, "+14155550101")
    send(church.client, body="A message", recipients={"all": True})
    with tenant_context(church.tenant):
        a_message = Message.objects.get(body="A message")
    with tenant_context(bob.tenant):
        before = dict(Message.objects.values_list("id", "status"))
    # A's sid, sent as if from B's number: B has no such message; A is untouched.
    response = APIClient().post(
        "/api/webhooks/sms/status",
        {
            "MessageSid": a_message.provider_sid,
            "MessageStatus": "failed",
            "ErrorCode": "21610",
            "From": B_NUMBER,
        },
    )
    assert response.status_code == 204
    with tenant_context(bob.tenant):
        assert dict(Message.objects.values_list("id", "status")) == before
    with tenant_context(church.tenant):
        a_message.refresh_from_db()
    assert a_message.status == "sent"
