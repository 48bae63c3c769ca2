"""Broadcasts: recipients, rendering, opt-outs, idempotency, retries, scheduling."""

import datetime as dt

import time_machine
from django.utils import timezone

from billing.models import UsageRollup
from members.models import Suppression
from messaging.delivery import send_messages
from messaging.models import Message
from tenants.context import tenant_context
from tenants.models import Tenant
from tests.messaging.fixtures import add_member, send


def test_a_broadcast_renders_for_each_recipient_and_skips_the_ineligible(
    church, outbox
):
    client = church.client
    north = client.post("/api/branches", {"name": "North"}, format="json").json()
    add_member(client, "+14155550101", first_name="Ann", branch=north["id"])
    add_member(client, "+14155550102", first_name="Bob", tags=["choir"])
    add_member(
        client, "+14155550103", first_name="Cy", status="inactive", tags=["choir"]
    )
    opted = add_member(client, "+14155550104", first_name="Di", tags=["choir"])
    with tenant_context(church.tenant):
        Suppression.objects.create(phone=opted["phone"], source="keyword")

    response = send(
        client,
        body="Hi {first_name} of {branch_name}! 😀",
        recipients={"branches": [north["id"]], "tags": ["choir"]},
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["recipient_count"] == 2
    assert body["opted_out_skipped"] == 1
    assert body["segments"] == 2  # UCS-2 after rendering, one segment each
    assert sorted((m.to, m.body) for m in outbox) == [
        ("+14155550101", "Hi Ann of North! 😀"),
        ("+14155550102", "Hi Bob of ! 😀"),
    ]
    assert {m.from_ for m in outbox} == {"+14155550000"}
    detail = client.get(f"/api/messages/broadcasts/{body['id']}").json()
    assert detail["counts"]["sent"] == 2
    assert detail["inactive_skipped"] == 1


def test_segments_are_counted_after_rendering(church, outbox):
    add_member(church.client, "+14155550101", first_name="A" * 100)
    response = send(
        church.client, body="{first_name} " + "x" * 100, recipients={"all": True}
    )
    assert response.json()["segments"] == 2  # 201 GSM-7 characters


def test_a_template_can_be_sent(church, outbox):
    template = church.client.post(
        "/api/templates", {"name": "T", "body": "Hello {first_name}"}, format="json"
    ).json()
    add_member(church.client, "+14155550101", first_name="Ann")
    response = send(church.client, template=template["id"], recipients={"all": True})
    assert response.status_code == 202
    assert [m.body for m in outbox] == ["Hello Ann"]


def test_bad_sends_change_nothing(church, outbox, bob):
    member = add_member(church.client, "+14155550101")
    foreign = add_member(bob.client, "+14155550199")
    cases = [
        ({"body": "x", "recipients": {}}, "recipients"),
        ({"body": "x", "recipients": {"members": []}}, "recipients"),
        (
            {"body": "x", "recipients": {"members": [foreign["id"]]}},
            "recipients.members",
        ),
        ({"body": "x", "recipients": {"members": ["nope"]}}, "recipients.members.0"),
        ({"body": "x" * 1601, "recipients": {"all": True}}, "body"),
        ({"body": "Hi {nick}", "recipients": {"all": True}}, "body"),
        ({"recipients": {"all": True}}, "non_field"),
        (
            {"body": "x", "recipients": {"all": True}, "scheduled_at": "tomorrow"},
            "scheduled_at",
        ),
        (
            {
                "body": "x",
                "recipients": {"all": True},
                "scheduled_at": "2001-01-01T00:00:00Z",
            },
            "scheduled_at",
        ),
        ({"body": "x", "recipients": [member["id"]]}, "recipients"),
    ]
    for body, field in cases:
        response = send(church.client, **body)
        assert response.status_code == 400, (body, response.content)
        payload = response.json()
        assert payload["code"] == "validation_error"
        if field != "non_field":
            assert field in payload["fields"], (field, payload)
    with tenant_context(church.tenant):
        assert not Message.objects.exists()
    assert outbox == []


def test_sending_twice_the_same_rows_messages_nobody_twice(church, outbox, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    for i in range(5):
        add_member(church.client, f"+1415555010{i}")
    response = send(church.client, body="once", recipients={"all": True})
    with tenant_context(church.tenant):
        ids = list(Message.objects.values_list("id", flat=True))
        again = send_messages(ids)  # a retried or redelivered batch
    assert response.status_code == 202, response.content
    assert again["sent"] == 0
    assert again["skipped"] == 5
    assert len(outbox) == 5
    assert len({m.to for m in outbox}) == 5


def test_transient_errors_retry_and_permanent_ones_fail(church, fake_twilio):
    fake_twilio.fail_next = [(429, 20429), (400, 21211), (400, 21610)]
    for i in range(3):
        add_member(church.client, f"+1415555010{i}")

    send(church.client, body="hello", recipients={"all": True})

    with tenant_context(church.tenant):
        states = dict(Message.objects.values_list("to_number", "status"))
        codes = dict(Message.objects.values_list("to_number", "error_code"))
        retrying = Message.objects.get(status="queued")
        assert retrying.error_code == "20429"
        assert retrying.send_after > timezone.now()
        assert sorted(states.values()) == ["failed", "failed", "queued"]
        assert sorted(codes.values()) == ["20429", "21211", "21610"]
        carrier_opt_out = [p for p, c in codes.items() if c == "21610"][0]
        assert Suppression.objects.filter(phone=carrier_opt_out).exists()
    assert Tenant.objects.get(pk=church.tenant.pk).next_send_at is not None

    later = timezone.now() + dt.timedelta(minutes=5)
    with time_machine.travel(later), tenant_context(church.tenant):
        from messaging.tasks import dispatch_due_task

        dispatch_due_task.delay()
        retrying.refresh_from_db()
    assert retrying.status == "sent"
    assert len(fake_twilio.sent_to(retrying.to_number)) == 1


def test_a_scheduled_broadcast_waits_and_can_be_canceled(church, outbox):
    add_member(church.client, "+14155550101")
    when = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    first = send(
        church.client, body="later", recipients={"all": True}, scheduled_at=when
    ).json()
    second = send(
        church.client, body="canceled", recipients={"all": True}, scheduled_at=when
    ).json()
    assert first["status"] == "scheduled"
    assert outbox == []
    cancel = church.client.post(f"/api/messages/broadcasts/{second['id']}/cancel")
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "canceled"
    again = church.client.post(f"/api/messages/broadcasts/{second['id']}/cancel")
    assert again.status_code == 409

    from messaging.tasks import sweep_due_task

    with time_machine.travel(timezone.now() + dt.timedelta(hours=2, minutes=1)):
        assert sweep_due_task.delay().get() == 1
    assert [m.body for m in outbox] == ["later"]


def test_usage_is_recorded_per_tenant_per_day(church, outbox):
    add_member(church.client, "+14155550101")
    add_member(church.client, "+14155550102")
    send(church.client, body="x" * 200, recipients={"all": True})  # 2 segments each
    from messaging.models import DailyUsage

    today = timezone.now().date()
    with tenant_context(church.tenant):
        usage = DailyUsage.objects.get(date=today)
    assert (usage.messages, usage.segments) == (2, 4)
    rollup = UsageRollup.objects.get(tenant=church.tenant, date=today)
    assert (rollup.messages, rollup.segments) == (2, 4)


def test_sends_from_one_number_are_paced(church, outbox, settings, monkeypatch):
    for i in range(5):
        add_member(church.client, f"+1415555010{i}")
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    send(church.client, body="paced", recipients={"all": True}, scheduled_at=later)
    settings.SMS_RATE_PER_NUMBER = 2
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in a worker: pacing applies
    clock = [1_000_000.0]
    naps = []

    def nap(seconds):
        naps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("messaging.pacing.time.time", lambda: clock[0])
    monkeypatch.setattr("messaging.pacing.time.sleep", nap)
    with tenant_context(church.tenant):
        ids = list(Message.objects.values_list("id", flat=True))
        Message.objects.update(send_after=timezone.now())
        result = send_messages(ids)
    assert result["sent"] == 5
    assert len(outbox) == 5
    assert len(naps) == 2  # 2 per second: 5 messages need two more seconds
