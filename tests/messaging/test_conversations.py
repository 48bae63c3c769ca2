"""Conversations, history and recurring messages through the API."""

import datetime as dt
import threading

import time_machine
from django.db import connections
from django.utils import timezone

from messaging.models import Broadcast, RecurringMessage
from messaging.recurring import run_due
from messaging.tasks import dispatch_due_task
from tenants.context import tenant_context
from tests.messaging.fixtures import add_member, send
from tests.messaging.test_webhooks import inbound


def test_thread_reply_read_and_close(church, outbox):
    add_member(church.client, "+14155550101", first_name="Ann")
    inbound(church.client, "+14155550101", "First")
    inbound(church.client, "+14155550101", "Second")
    thread = church.client.get("/api/messages/conversations").json()["results"][0]
    path = f"/api/messages/conversations/{thread['id']}"
    assert thread["unread_count"] == 2

    detail = church.client.get(path).json()
    assert [m["body"] for m in detail["results"]] == ["First", "Second"]  # oldest first
    assert detail["conversation"]["phone"] == "+14155550101"

    reply = church.client.post(
        f"{path}/reply", {"body": "Thanks {first_name}"}, format="json"
    )
    assert reply.status_code == 201
    assert reply.json()["direction"] == "outbound"
    assert [m.body for m in outbox] == ["Thanks {first_name}"]  # replies are literal
    assert church.client.post(f"{path}/read").status_code == 204
    assert church.client.get(path).json()["conversation"]["unread_count"] == 0
    closed = church.client.patch(path, {"status": "closed"}, format="json")
    assert closed.json()["status"] == "closed"
    assert (
        church.client.patch(path, {"status": "gone"}, format="json").status_code == 400
    )
    inbound(church.client, "+14155550101", "Reopen please")
    assert church.client.get(path).json()["conversation"]["status"] == "open"


def test_history_filters(church, outbox):
    member = add_member(church.client, "+14155550101")
    add_member(church.client, "+14155550102")
    send(church.client, body="to all", recipients={"all": True})
    inbound(church.client, "+14155550101", "hello back")

    def bodies(query):
        return sorted(
            m["body"]
            for m in church.client.get(f"/api/messages/history{query}").json()[
                "results"
            ]
        )

    assert bodies("") == ["hello back", "to all", "to all"]
    assert bodies("?direction=inbound") == ["hello back"]
    assert bodies(f"?member={member['id']}") == ["hello back", "to all"]
    assert bodies("?status=sent") == ["to all", "to all"]
    tomorrow = (timezone.now() + dt.timedelta(days=1)).isoformat()
    assert bodies(f"?since={tomorrow.replace('+', '%2B')}") == []
    assert bodies(f"?until={tomorrow.replace('+', '%2B')}") != []
    bad = church.client.get("/api/messages/history?since=yesterday")
    assert bad.status_code == 400
    assert "since" in bad.json()["fields"]
    # An offset PostgreSQL does not accept is the same instant in UTC.
    far_offset = "2020-01-01T20:00:00%2B20:52"
    assert bodies(f"?until={far_offset}") == []
    overflow = church.client.get(
        "/api/messages/history?since=0001-01-01T00:00:00%2B05:00"
    )
    assert overflow.status_code == 400
    assert "since" in overflow.json()["fields"]


def test_recurring_crud_and_next_run(church, outbox):
    body = {
        "body": "Service at 10!",
        "recipients": {"all": True},
        "schedule": {
            "frequency": "weekly",
            "time": "09:00",
            "weekday": 6,
            "timezone": "America/New_York",
        },
    }
    created = church.client.post("/api/messages/recurring", body, format="json")
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["next_run_at"] is not None
    path = f"/api/messages/recurring/{item['id']}"
    paused = church.client.patch(path, {"active": False}, format="json").json()
    assert paused["active"] is False
    assert paused["next_run_at"] is None
    resumed = church.client.patch(path, {"active": True}, format="json").json()
    assert resumed["next_run_at"] == item["next_run_at"]
    for bad in (
        {"schedule": {"frequency": "weekly", "time": "09:00"}},
        {"schedule": {"frequency": "hourly", "time": "09:00"}},
        {"schedule": {"frequency": "daily", "time": "9am"}},
        {"recipients": {}},
    ):
        assert church.client.patch(path, bad, format="json").status_code == 400
    assert church.client.get("/api/messages/recurring").json()["count"] == 1
    assert church.client.delete(path).status_code == 204
    assert church.client.get(path).status_code == 404


def test_each_occurrence_is_sent_once_even_with_two_schedulers(church, outbox):
    add_member(church.client, "+14155550101")
    body = {
        "body": "Daily word",
        "recipients": {"all": True},
        "schedule": {"frequency": "daily", "time": "09:00", "timezone": "UTC"},
    }
    item = church.client.post("/api/messages/recurring", body, format="json").json()
    due = dt.datetime.fromisoformat(item["next_run_at"]) + dt.timedelta(minutes=1)

    barrier = threading.Barrier(2)
    results = []

    def scheduler():
        try:
            with time_machine.travel(due, tick=False), tenant_context(church.tenant):
                barrier.wait()
                results.append(run_due(timezone.now()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [0, 1]
    with time_machine.travel(due, tick=False), tenant_context(church.tenant):
        dispatch_due_task.delay()  # sends what the runs composed
    with tenant_context(church.tenant):
        assert Broadcast.objects.filter(recurring_id=item["id"]).count() == 1
        recurring = RecurringMessage.objects.get()
        assert recurring.next_run_at > due
    assert [m.body for m in outbox] == ["Daily word"]
