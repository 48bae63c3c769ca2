"""Quota: what a church may send, reserved at creation, used when sent."""

import pytest

from billing.models import Plan
from members.models import Member
from messaging.models import Broadcast, Message, RecurringMessage, RecurringRun
from messaging.quota import reading, recount
from messaging.recurring import run_due
from tenants.context import tenant_context
from tests.concurrency import run_together
from tests.messaging.fixtures import add_member, send
from tests.messaging.test_webhooks import inbound

PHONES = [f"+1415555{n:04d}" for n in range(100, 140)]


def included(code: str, segments: int, overage: int | None = None) -> None:
    Plan.objects.filter(code=code).update(
        included_segments=segments, overage_unit_amount=overage
    )


def billing(persona) -> dict:
    response = persona.client.get("/api/billing")
    assert response.status_code == 200, response.content
    return response.json()


def members(persona, count: int) -> None:
    for phone in PHONES[:count]:
        add_member(persona.client, phone)


def test_a_new_church_is_on_its_trial(church):
    state = billing(church)
    assert state["plan"]["code"] == "trial"
    assert state["status"] == "trialing"
    assert state["plan"]["included_segments"] == 200
    assert state["plan"]["overage_unit_amount"] is None
    assert (state["used_segments"], state["reserved_segments"]) == (0, 0)
    assert state["remaining_segments"] == 200
    assert state["trial_ends_at"] == state["period_end"]
    assert state["projected_amount"] == 0


def test_sending_moves_segments_from_reserved_to_used(church, outbox):
    members(church, 3)
    answer = send(church.client, body="Hello", recipients={"all": True})
    assert answer.status_code == 202  # eager tasks: sent inside the request
    state = billing(church)
    assert (state["used_segments"], state["reserved_segments"]) == (3, 0)
    assert state["remaining_segments"] == 197
    scheduled = send(
        church.client, body="Later " + "x" * 160, recipients={"all": True},
        scheduled_at="2099-01-01T10:00:00Z",
    )  # fmt: skip
    assert scheduled.status_code == 202
    state = billing(church)
    assert (state["used_segments"], state["reserved_segments"]) == (3, 6)
    assert state["remaining_segments"] == 191
    canceled = church.client.post(
        f"/api/messages/broadcasts/{scheduled.json()['id']}/cancel"
    )
    assert canceled.status_code == 200
    assert billing(church)["reserved_segments"] == 0


def test_a_send_past_a_hard_quota_is_refused_and_writes_nothing(church, outbox):
    included("trial", 5)
    members(church, 3)
    assert send(church.client, body="One", recipients={"all": True}).status_code == 202
    refused = send(church.client, body="Two", recipients={"all": True})
    assert refused.status_code == 402
    assert refused.json()["code"] == "quota_exceeded"
    assert refused.json()["fields"] == {"segments": ["needs 3, 2 remaining"]}
    with tenant_context(church.tenant):
        assert Broadcast.objects.count() == 1
        assert Message.objects.count() == 3
    assert len(outbox) == 3
    state = billing(church)
    assert (state["used_segments"], state["remaining_segments"]) == (3, 2)


def test_an_overage_plan_sends_past_its_quota_and_bills_it(church, outbox):
    included("starter", 2, overage=3)
    assert (
        church.client.post(
            "/api/billing/subscribe", {"plan": "starter"}, format="json"
        ).status_code
        == 200
    )
    members(church, 5)
    assert send(church.client, body="Hi", recipients={"all": True}).status_code == 202
    state = billing(church)
    assert state["status"] == "active"
    assert (state["used_segments"], state["overage_segments"]) == (5, 3)
    assert state["remaining_segments"] == 0
    assert state["projected_amount"] == 2900 + 3 * 3


def test_replies_and_stop_confirmations_are_never_refused_and_always_count(
    church, outbox
):
    included("trial", 1)
    add_member(church.client, PHONES[0])
    assert send(church.client, body="Hi", recipients={"all": True}).status_code == 202
    assert send(church.client, body="Hi", recipients={"all": True}).status_code == 402
    inbound(church.client, PHONES[0], "Thanks!")
    thread = church.client.get("/api/messages/conversations").json()["results"][0]
    reply = church.client.post(
        f"/api/messages/conversations/{thread['id']}/reply",
        {"body": "You are welcome"},
        format="json",
    )
    assert reply.status_code == 201, reply.content
    assert inbound(church.client, PHONES[0], "STOP").status_code == 200
    state = billing(church)
    assert state["used_segments"] == 3  # the broadcast, the reply, the confirmation
    assert state["remaining_segments"] == 0


def test_a_message_that_fails_before_the_provider_is_not_counted(church, fake_twilio):
    members(church, 2)
    fake_twilio.fail_next = [(400, 21211)]  # an invalid number: refused outright
    assert send(church.client, body="Hi", recipients={"all": True}).status_code == 202
    with tenant_context(church.tenant):
        statuses = sorted(Message.objects.values_list("status", flat=True))
    assert statuses == ["failed", "sent"]
    state = billing(church)
    assert (state["used_segments"], state["reserved_segments"]) == (1, 0)


def test_a_recurring_run_past_the_quota_is_skipped_and_recorded(church, outbox):
    import datetime as dt

    import time_machine
    from django.utils import timezone

    included("trial", 1)
    members(church, 2)
    body = {
        "body": "Daily word",
        "recipients": {"all": True},
        "schedule": {"frequency": "daily", "time": "09:00", "timezone": "UTC"},
    }
    item = church.client.post("/api/messages/recurring", body, format="json").json()
    due = dt.datetime.fromisoformat(item["next_run_at"]) + dt.timedelta(minutes=1)
    with time_machine.travel(due, tick=False), tenant_context(church.tenant):
        assert run_due(timezone.now()) == 0
        run = RecurringRun.objects.get()
        assert (run.outcome, run.broadcast_id) == ("skipped_quota", None)
        recurring = RecurringMessage.objects.get()
        assert recurring.skipped_count == 1
        assert recurring.next_run_at > due
        assert Message.objects.count() == 0
    shown = church.client.get(f"/api/messages/recurring/{item['id']}").json()
    assert (shown["skipped_count"], shown["last_skip_reason"]) == (1, "skipped_quota")


def test_the_meter_matches_the_messages_after_a_mix(church, fake_twilio):
    members(church, 6)
    fake_twilio.fail_next = [(400, 21211), (503, 20429)]
    send(church.client, body="A " + "é" * 80, recipients={"all": True})
    later = send(church.client, body="B", recipients={"all": True},
                 scheduled_at="2099-01-01T10:00:00Z").json()  # fmt: skip
    send(church.client, body="C", recipients={"all": True},
         scheduled_at="2099-02-01T10:00:00Z")  # fmt: skip
    church.client.post(f"/api/messages/broadcasts/{later['id']}/cancel")
    inbound(church.client, PHONES[1], "STOP")
    inbound(church.client, PHONES[2], "HELP")
    with tenant_context(church.tenant):
        from billing.allowance import allowance_for

        limits = allowance_for(church.tenant)
        live = reading(limits)
        assert Member.objects.count() == 6
        assert live == recount()
        assert live.reserved > 0
        assert live.used > 0


@pytest.mark.postgres
def test_racing_broadcasts_never_take_more_than_what_remains(church, outbox):
    included("trial", 100)
    members(church, 30)  # each broadcast: 30 recipients x 1 segment
    used_before = billing(church)["used_segments"]
    assert used_before == 0

    def broadcast() -> int:
        answer = send(church.client, body="Race", recipients={"all": True},
                      scheduled_at="2099-01-01T10:00:00Z")  # fmt: skip
        return answer.status_code

    results = run_together(8, broadcast)
    assert sorted(results) == [202] * 3 + [402] * 5
    state = billing(church)
    assert state["reserved_segments"] == 90
    with tenant_context(church.tenant):
        assert Message.objects.count() == 90


def test_a_sending_receipt_on_a_queued_row_does_not_count_it_twice(church, outbox):
    from messaging.receipts import update_status

    members(church, 2)
    send(church.client, body="Later", recipients={"all": True},
         scheduled_at="2099-01-01T10:00:00Z")  # fmt: skip
    with tenant_context(church.tenant):
        queued = Message.objects.filter(status="queued").first()
        # The provider took it on an attempt we took for failed: it says so.
        update_status(sid="SMlate", status="sending", message_id=str(queued.id))
        update_status(sid="SMlate", status="delivered")
        from billing.allowance import allowance_for

        live = reading(allowance_for(church.tenant))
        assert live == recount()
        assert (live.used, live.reserved) == (1, 1)
