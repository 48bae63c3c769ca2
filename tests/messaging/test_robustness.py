"""The robustness of sending: released numbers, races, retries, deleted recipients."""

import datetime as dt

import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from members.models import Member
from messaging.delivery import send_messages
from messaging.models import Broadcast, Message, RecurringMessage
from messaging.recurring import run_due
from messaging.tasks import dispatch_due_task
from tenants.context import tenant_context
from tests.messaging.fixtures import CHURCH_NUMBER, add_member, send, set_quiet_hours
from tests.messaging.test_webhooks import inbound


def test_a_number_released_to_another_church_is_never_sent_from(church, bob, outbox):
    add_member(church.client, "+14155550101")
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    send(church.client, body="scheduled", recipients={"all": True}, scheduled_at=later)
    church.client.patch("/api/tenant", {"phone_number": "+14155550001"}, format="json")
    assert (
        bob.client.patch(
            "/api/tenant", {"phone_number": CHURCH_NUMBER}, format="json"
        ).status_code
        == 200
    )
    with (
        tenant_context(church.tenant),
        time_machine.travel(timezone.now() + dt.timedelta(hours=2)),
    ):
        church.tenant.refresh_from_db()
        ids = list(Message.objects.values_list("id", flat=True))
        result = send_messages(ids)
        message = Message.objects.get()
    assert result["failed"] == 1
    assert message.error_code == "number_released"
    assert outbox == []


def test_a_reply_goes_from_a_number_the_church_still_holds(church, bob, outbox):
    add_member(church.client, "+14155550101")
    inbound(church.client, "+14155550101", "hello")  # to the old number
    church.client.patch("/api/tenant", {"phone_number": "+14155550001"}, format="json")
    bob.client.patch("/api/tenant", {"phone_number": CHURCH_NUMBER}, format="json")
    thread = church.client.get("/api/messages/conversations").json()["results"][0]
    reply = church.client.post(
        f"/api/messages/conversations/{thread['id']}/reply",
        {"body": "hi"},
        format="json",
    )
    assert reply.status_code == 201
    assert [m.from_ for m in outbox] == ["+14155550001"]


def test_a_stop_is_never_stored_without_its_opt_out(church, monkeypatch):
    add_member(church.client, "+14155550101")
    calls = []

    def failing_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real(**kwargs)

    from messaging import inbound as inbound_module

    real = inbound_module.opt_out
    monkeypatch.setattr(inbound_module, "opt_out", failing_once)
    client = APIClient(raise_request_exception=False)
    form = {
        "From": "+14155550101",
        "To": CHURCH_NUMBER,
        "Body": "STOP",
        "MessageSid": "SMretry",
    }
    assert client.post("/api/webhooks/sms/inbound", form).status_code == 500
    assert client.post("/api/webhooks/sms/inbound", form).status_code == 200  # retry
    with tenant_context(church.tenant):
        assert Member.objects.get().opted_out is True
        assert Message.objects.filter(provider_sid="SMretry").count() == 1


def test_a_receipt_that_beats_the_sid_is_matched_by_our_id(church, outbox):
    add_member(church.client, "+14155550101")
    send(church.client, body="x", recipients={"all": True})
    with tenant_context(church.tenant):
        message = Message.objects.get()
        Message.objects.update(provider_sid=None)  # as if the receipt came first
    response = APIClient().post(
        f"/api/webhooks/sms/status?message={message.id}",
        {"MessageSid": "SMearly", "MessageStatus": "delivered", "From": CHURCH_NUMBER},
    )
    assert response.status_code == 204
    with tenant_context(church.tenant):
        message.refresh_from_db()
    assert (message.provider_sid, message.status) == ("SMearly", "delivered")


def test_a_retry_that_falls_in_quiet_hours_waits_for_morning(church, fake_twilio):
    set_quiet_hours(church.client, "America/New_York")
    church.tenant.refresh_from_db()
    add_member(church.client, "+14155550101")
    evening = dt.datetime(2026, 12, 1, 0, 59, tzinfo=dt.UTC)  # 19:59 New York
    with time_machine.travel(evening, tick=False):
        from accounts.tokens import issue_tokens

        token = issue_tokens(
            user_id=church.user.id, tenant=church.tenant, role="owner"
        )["access"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        fake_twilio.fail_next = [(503, 20500)]
        assert send(client, body="x", recipients={"all": True}).status_code == 202
    with (
        time_machine.travel(evening + dt.timedelta(minutes=15), tick=False),
        tenant_context(church.tenant),
    ):
        result = send_messages(list(Message.objects.values_list("id", flat=True)))
        message = Message.objects.get()
    assert result["deferred"] == 1
    assert message.send_after == dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC)
    assert fake_twilio.created == []


def test_a_broadcast_cannot_be_canceled_once_its_time_has_come(church, outbox):
    add_member(church.client, "+14155550101")
    later = timezone.now() + dt.timedelta(hours=1)
    sent = send(
        church.client,
        body="x",
        recipients={"all": True},
        scheduled_at=later.isoformat(),
    ).json()
    with time_machine.travel(later + dt.timedelta(minutes=1)):
        from accounts.tokens import issue_tokens

        token = issue_tokens(
            user_id=church.user.id, tenant=church.tenant, role="owner"
        )["access"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.post(f"/api/messages/broadcasts/{sent['id']}/cancel")
    assert response.status_code == 409
    with tenant_context(church.tenant):
        assert Broadcast.objects.get().status == "scheduled"


def test_history_refuses_a_malformed_member_filter(church):
    response = church.client.get("/api/messages/history?member=garbage")
    assert response.status_code == 400
    assert "member" in response.json()["fields"]


def test_in_the_embedded_default_a_send_never_waits_for_pacing(
    church, outbox, settings, monkeypatch
):
    settings.SMS_RATE_PER_NUMBER = 1

    def no_sleep(seconds):
        raise AssertionError("paced inside the request")

    monkeypatch.setattr("messaging.pacing.time.sleep", no_sleep)
    for i in range(3):
        add_member(church.client, f"+1415555010{i}")
    assert send(church.client, body="x", recipients={"all": True}).status_code == 202
    assert len(outbox) == 3


def test_recurring_runs_survive_deleted_recipients_and_stop_without_a_template(
    church, outbox
):
    gone = add_member(church.client, "+14155550101")
    add_member(church.client, "+14155550102", tags=["choir"])
    template = church.client.post(
        "/api/templates", {"name": "T", "body": "Hi"}, format="json"
    ).json()
    one = church.client.post(
        "/api/messages/recurring",
        {
            "body": "weekly",
            "recipients": {"members": [gone["id"]], "tags": ["choir"]},
            "schedule": {"frequency": "daily", "time": "09:00", "timezone": "UTC"},
        },
        format="json",
    ).json()
    two = church.client.post(
        "/api/messages/recurring",
        {
            "template": template["id"],
            "recipients": {"all": True},
            "schedule": {"frequency": "daily", "time": "09:00", "timezone": "UTC"},
        },
        format="json",
    ).json()
    church.client.delete(f"/api/members/{gone['id']}")
    church.client.delete(f"/api/templates/{template['id']}")
    due = dt.datetime.fromisoformat(one["next_run_at"]) + dt.timedelta(minutes=1)
    with time_machine.travel(due, tick=False), tenant_context(church.tenant):
        assert run_due(timezone.now()) == 1
        dispatch_due_task.delay()  # sends what the run composed
        paused = RecurringMessage.objects.get(pk=two["id"])
    assert [m.body for m in outbox] == ["weekly"]
    assert paused.active is False
