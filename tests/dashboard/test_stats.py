"""Statistics: daily rollups kept current, equal to a rebuild, served by day,
week and month in the church's time zone."""

import datetime as dt
import random
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.tokens import issue_tokens
from dashboard.stats import rebuild, totals_by_day
from messaging.models import Message
from tenants.context import tenant_context
from tests.conftest import make_persona
from tests.messaging.fixtures import CHURCH_NUMBER, add_member, send
from tests.messaging.test_webhooks import inbound

NEW_YORK = ZoneInfo("America/New_York")  # the church's zone (the default)
STATUS = "/api/webhooks/sms/status"


def at(day: str, clock: str) -> dt.datetime:
    """A wall-clock moment in the church's zone."""
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=NEW_YORK)


@contextmanager
def travel(church, moment: dt.datetime):
    """The clock at `moment`, with a token issued then (tokens are dated)."""
    with time_machine.travel(moment, tick=False):
        tokens = issue_tokens(
            user_id=church.user.id, tenant=church.tenant, role="owner"
        )
        church.client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        yield
    church.client.credentials(HTTP_AUTHORIZATION=f"Bearer {church.access}")


def receipt(message: Message, status: str) -> None:
    form = {"MessageSid": message.provider_sid, "MessageStatus": status,
            "From": CHURCH_NUMBER}  # fmt: skip
    assert APIClient().post(STATUS, form).status_code == 204


def stats(client, query: str = "") -> dict:
    answer = client.get(f"/api/stats?{query}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def outbound(church) -> list[Message]:
    with tenant_context(church.tenant):
        return list(Message.objects.filter(direction="outbound").order_by("created_at"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_rollups_equal_a_rebuild_after_a_random_mix(church, seed):
    """Sends, receipts (late ones too), replies, opt-outs, new and deleted
    members and staff replies over five days across the spring DST change."""
    rng = random.Random(seed)
    branch = church.client.post("/api/branches", {"name": "North"}, format="json")
    phones: list[str] = []
    members: dict[str, str] = {}
    gone: list[str] = []  # deleted members' phones (never reused)
    moments = [at(f"2026-03-{d:02}", c) for d in range(6, 11)
               for c in ("00:30", "09:00", "23:30")]  # fmt: skip
    for moment in moments:
        with travel(church, moment):
            for _ in range(rng.randint(0, 3)):
                phone = f"+1415555{1000 + len(members) + len(gone):04}"
                extra = {"branch": branch.json()["id"]} if rng.random() < 0.5 else {}
                members[phone] = add_member(church.client, phone, **extra)["id"]
                phones.append(phone)
            if phones and rng.random() < 0.6:
                send(church.client, body="Service at ten", recipients={"all": True})
            # (compliance replies went out in the webhook's answer: no sid)
            sent = [
                m for m in outbound(church) if m.status == "sent" and m.provider_sid
            ]
            for message in rng.sample(sent, k=min(len(sent), rng.randint(0, 4))):
                receipt(message, rng.choice(["delivered", "undelivered", "failed"]))
            for phone in rng.sample(phones, k=min(len(phones), rng.randint(0, 3))):
                inbound(church.client, phone, rng.choice(["Amen", "STOP", "Thanks"]))
            if phones and rng.random() < 0.2:
                gone.append(phones.pop(rng.randrange(len(phones))))
                church.client.delete(f"/api/members/{members.pop(gone[-1])}")
            threads = church.client.get("/api/messages/conversations").json()
            if threads["results"] and rng.random() < 0.5:
                thread = rng.choice(threads["results"])
                church.client.post(f"/api/messages/conversations/{thread['id']}/reply",
                                   {"body": "Bless you"}, format="json")  # fmt: skip
    with tenant_context(church.tenant):
        live = totals_by_day()
        rebuild()
        rebuilt = totals_by_day()
    differing = {
        (key, name): (
            (live.get(key) or {}).get(name),
            (rebuilt.get(key) or {}).get(name),
        )
        for key in set(live) | set(rebuilt)
        for name in (live.get(key) or rebuilt.get(key))
        if (live.get(key) or {}).get(name) != (rebuilt.get(key) or {}).get(name)
    }
    assert not differing
    assert sum(row["messages_sent"] for row in live.values()) > 0


def test_a_late_receipt_counts_on_the_day_of_the_send_across_dst(church):
    add_member(church.client, "+14155550101")
    # 23:30 on the day clocks go back: still that local day, not the next UTC one.
    with travel(church, at("2026-11-01", "23:30")):
        send(church.client, body="Hello", recipients={"all": True})
    [message] = outbound(church)
    with travel(church, at("2026-11-03", "08:00")):
        receipt(message, "delivered")
    with travel(church, at("2026-11-05", "08:00")):
        inbound(church.client, "+14155550101", "Thank you!")  # after 72 h
    by_day = stats(church.client, "since=2026-11-01&until=2026-11-05")
    days = {row["period"]: row for row in by_day["series"]}
    assert list(days) == [f"2026-11-0{d}" for d in range(1, 6)]
    first = days["2026-11-01"]
    assert (first["messages_sent"], first["delivered"]) == (1, 1)
    assert days["2026-11-03"]["delivered"] == 0
    assert days["2026-11-05"]["inbound"] == 1
    assert by_day["totals"]["delivery_rate"] == 1.0
    assert by_day["totals"]["response_rate"] == 0.0  # too late to be an answer


def test_weeks_start_on_monday_and_months_on_the_first(church):
    add_member(church.client, "+14155550101")
    for day in ("2026-03-01", "2026-03-02", "2026-04-01"):  # a Sunday, a Monday
        with travel(church, at(day, "12:00")):
            send(church.client, body="Hi", recipients={"all": True})
    weeks = stats(church.client, "since=2026-03-01&until=2026-03-08&granularity=week")
    assert [(w["period"], w["messages_sent"]) for w in weeks["series"]] == [
        ("2026-02-23", 1), ("2026-03-02", 1),
    ]  # fmt: skip
    months = stats(church.client, "since=2026-03-01&until=2026-04-30&granularity=month")
    assert [(m["period"], m["messages_sent"]) for m in months["series"]] == [
        ("2026-03-01", 2), ("2026-04-01", 1),
    ]  # fmt: skip
    assert months["totals"]["messages_sent"] == 3


def test_replies_within_72_hours_make_the_response_rate_and_branches_split(church):
    north = church.client.post("/api/branches", {"name": "North"}, format="json").json()
    add_member(church.client, "+14155550101", branch=north["id"])
    add_member(church.client, "+14155550102")
    with travel(church, at("2026-06-01", "10:00")):
        send(church.client, body="Picnic?", recipients={"all": True})
    for message in outbound(church):
        receipt(message, "delivered")
    with travel(church, at("2026-06-02", "10:00")):
        inbound(church.client, "+14155550101", "Yes!")
    query = "since=2026-06-01&until=2026-06-03"
    everyone = stats(church.client, query)["totals"]
    assert (everyone["replies"], everyone["response_rate"]) == (1, 0.5)
    north_only = stats(church.client, f"{query}&branch={north['id']}")["totals"]
    assert (north_only["messages_sent"], north_only["replies"]) == (1, 1)
    assert north_only["response_rate"] == 1.0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=2026-03-10&until=2026-03-01", "since"),
        ("since=2025-01-01&until=2026-03-01", "since"),
        ("granularity=hour", "granularity"),
        ("branch=00000000-0000-4000-8000-000000000000", "branch"),
        ("branch=north", "branch"),
        ("since=yesterday", "since"),
    ],
)
def test_bad_queries_are_400_naming_the_field(church, query, field):
    answer = church.client.get(f"/api/stats?{query}")
    assert answer.status_code == 400
    assert list(answer.json()["fields"]) == [field]


def test_another_churchs_branch_is_unknown(church, bob):
    theirs = bob.client.post("/api/branches", {"name": "East"}, format="json").json()
    answer = church.client.get(f"/api/stats?branch={theirs['id']}")
    assert answer.status_code == 400
    assert answer.json()["fields"] == {"branch": ["Unknown branch."]}


def test_the_summary_counts_members_threads_and_the_last_broadcast(church):
    staff = make_persona(church.tenant, role="staff")
    for n in (1, 2, 3):
        add_member(church.client, f"+1415555010{n}")
    send(church.client, body="Hello", recipients={"all": True})
    [first, *_] = outbound(church)
    receipt(first, "delivered")
    inbound(church.client, "+14155550101", "Hi back")
    inbound(church.client, "+14155550102", "STOP")
    thread = church.client.get("/api/messages/conversations").json()["results"][0]
    church.client.patch(f"/api/messages/conversations/{thread['id']}",
                        {"assignee": str(staff.user.id)}, format="json")  # fmt: skip
    owner_view = church.client.get("/api/stats/summary").json()
    assert owner_view["members"] == {"total": 3, "active": 3, "opted_out": 1}
    assert owner_view["conversations"] == {"open": 2, "unread": 2, "mine_unread": 0}
    assert owner_view["billing"]["used_segments"] >= 3
    last = owner_view["last_broadcast"]
    assert (last["recipients"], last["delivered"], last["failed"]) == (3, 1, 0)
    assert last["replies"] == 2  # "Hi back" and the STOP both answered it
    staff_view = staff.client.get("/api/stats/summary").json()
    assert "billing" not in staff_view
    assert staff_view["conversations"]["mine_unread"] == 1
