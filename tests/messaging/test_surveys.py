"""Surveys by SMS: the question sent like a broadcast, replies read as scores."""

import datetime as dt
import json

import pytest
import redis
import time_machine
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Plan
from messaging.models import Broadcast, DailyUsage, Message, Survey
from messaging.surveys import parse_score
from messaging.tasks import USAGE_RECOUNT_DELAY, _recounts, recount_usage_task
from tenants.context import tenant_context
from tests.conftest import publishing_to
from tests.messaging.fixtures import add_member, set_quiet_hours
from tests.messaging.test_quiet_hours_send import fresh
from tests.messaging.test_webhooks import inbound

REPLIES = {
    "promoter": "Thank you! We are glad you are with us.",
    "passive": "Thank you! What would make it a 10?",
    "detractor": "Thank you. Pastor Dan would love to hear how we can do better.",
}


def start(client, **body):
    payload = {"name": "Autumn NPS", "recipients": {"all": True}, "replies": REPLIES}
    return client.post("/api/surveys", payload | body, format="json")


@pytest.mark.parametrize(
    ("text", "score"),
    [("10", 10), ("10!", 10), (" 9 ", 9), ("0", 0), ("nine", 9), ("Nine.", 9),
     ("nueve", 9), ("DIEZ!!", 10), ("cero", 0), ("seven", 7), ("“8”", None),
     ("11", None), ("-1", None), ("9/10", None), ("I'd say 8", None), ("", None),
     ("10 10", None), ("once", None)],
)  # fmt: skip
def test_a_score_is_a_whole_number_from_0_to_10_alone(text, score):
    assert parse_score(text) == score


def test_the_question_goes_out_and_replies_are_scored_and_thanked(church, outbox):
    for n in (1, 2, 3):
        add_member(church.client, f"+1415555010{n}")
    created = start(church.client)
    assert created.status_code == 201, created.content
    survey = created.json()
    assert survey["recipient_count"] == 3
    assert church.tenant.name in survey["question"]
    assert [m.body for m in outbox] == [survey["question"]] * 3

    answered = inbound(church.client, "+14155550101", "10!")
    assert REPLIES["promoter"] in answered.content.decode()
    assert (
        REPLIES["passive"]
        in inbound(church.client, "+14155550102", "eight").content.decode()
    )
    assert (
        REPLIES["detractor"]
        in inbound(church.client, "+14155550103", "3").content.decode()
    )
    # the last valid reply wins; other text is an ordinary message, not thanked
    assert (
        REPLIES["promoter"]
        in inbound(church.client, "+14155550103", "9").content.decode()
    )
    chat = inbound(church.client, "+14155550102", "See you Sunday")
    assert "Thank you" not in chat.content.decode()
    assert (
        "Thank you" not in inbound(church.client, "+14155550102", "11").content.decode()
    )

    results = church.client.get(f"/api/surveys/{survey['id']}/results").json()
    assert (results["sent"], results["responses"]) == (3, 3)
    assert (results["promoters"], results["passives"], results["detractors"]) == (
        2,
        1,
        0,
    )
    assert results["nps"] == 67
    assert results["response_rate"] == 1.0
    threads = church.client.get("/api/messages/conversations").json()["results"]
    assert len(threads) == 3  # every reply is in its conversation too


def test_stop_and_help_win_over_a_score(church, outbox):
    add_member(church.client, "+14155550101")
    survey = start(church.client).json()
    stopped = inbound(church.client, "+14155550101", "STOP")
    assert "unsubscribed" in stopped.content.decode()
    results = church.client.get(f"/api/surveys/{survey['id']}/results").json()
    assert results["responses"] == 0


def test_a_reply_after_the_survey_closes_is_not_a_score(church, outbox):
    add_member(church.client, "+14155550101")
    closes = timezone.now() + dt.timedelta(hours=1)
    survey = start(church.client, closes_at=closes.isoformat()).json()
    with time_machine.travel(closes + dt.timedelta(minutes=1), tick=False):
        late = inbound(church.client, "+14155550101", "10")
    assert "Thank you" not in late.content.decode()
    results = church.client.get(f"/api/surveys/{survey['id']}/results").json()
    assert results["responses"] == 0


def test_members_surveyed_lately_are_skipped_and_counted(church, outbox):
    add_member(church.client, "+14155550101")
    assert start(church.client).status_code == 201
    add_member(church.client, "+14155550102")
    second = start(church.client, name="Again")
    assert second.status_code == 201, second.content
    assert (second.json()["recipient_count"], second.json()["skipped_recent"]) == (1, 1)
    third = start(church.client, name="Once more")  # everyone surveyed lately
    assert third.status_code == 400
    with tenant_context(church.tenant):
        assert Survey.objects.count() == 2
        assert Broadcast.objects.count() == 2


def test_results_split_by_branch_and_tag(church, outbox):
    north = church.client.post("/api/branches", {"name": "North"}, format="json").json()
    add_member(church.client, "+14155550101", branch=north["id"], tags=["choir"])
    add_member(church.client, "+14155550102", tags=["choir", "youth"])
    survey = start(church.client).json()
    inbound(church.client, "+14155550101", "10")
    inbound(church.client, "+14155550102", "2")
    results = church.client.get(f"/api/surveys/{survey['id']}/results").json()
    branches = {b["name"]: (b["responses"], b["nps"]) for b in results["by_branch"]}
    assert branches == {"North": (1, 100), "": (1, -100)}
    tags = {t["tag"]: (t["responses"], t["nps"]) for t in results["by_tag"]}
    assert tags == {"choir": (2, 0), "youth": (1, -100)}


@pytest.mark.parametrize(
    "change",
    [
        {"replies": {"promoter": "x"}},
        {"replies": {**REPLIES, "passive": "Hi {nickname}"}},
        {"closes_at": "2020-01-01T00:00:00Z"},
        {"recipients": {}},
        {"recipients": {"members": ["00000000-0000-4000-8000-000000000000"]}},
        {"name": ""},
        {"question": "x" * 2000},
    ],
)
def test_bad_input_is_a_400_and_sends_nothing(church, outbox, change):
    add_member(church.client, "+14155550101")
    answer = start(church.client, **change)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "validation_error"
    assert outbox == []
    with tenant_context(church.tenant):
        assert not Survey.objects.exists()


def test_another_churchs_survey_is_404(church, bob, outbox):
    add_member(church.client, "+14155550101")
    survey = start(church.client).json()
    assert bob.client.get(f"/api/surveys/{survey['id']}").status_code == 404
    assert bob.client.get(f"/api/surveys/{survey['id']}/results").status_code == 404
    assert church.client.get("/api/surveys/nope/results").status_code == 404


def test_an_erasure_takes_the_score_and_an_export_shows_it(church, outbox):
    member = add_member(church.client, "+14155550101")
    survey = start(church.client).json()
    inbound(church.client, "+14155550101", "8")
    export = church.client.get(f"/api/members/{member['id']}/export")
    content = b"".join(export.streaming_content) if export.streaming else export.content
    assert '"score": 8' in content.decode()
    assert church.client.post(f"/api/members/{member['id']}/erase").status_code in (
        200,
        204,
    )
    results = church.client.get(f"/api/surveys/{survey['id']}/results").json()
    assert results["responses"] == 0


def test_a_burst_of_answers_is_recounted_once_after_it(church, outbox, redis_server):
    """Each thank-you counts as usage; the day is recounted once, after the
    burst, by a task on the broker (not once per answer, which reads the day)."""
    phones = [f"+1415555010{n}" for n in range(1, 6)]
    for phone in phones:
        add_member(church.client, phone)
    assert start(church.client).status_code == 201
    _recounts.clear()
    with publishing_to(redis_server.url):
        for phone in phones:
            assert (
                REPLIES["promoter"]
                in inbound(church.client, phone, "9").content.decode()
            )
    queued = [
        json.loads(raw)
        for raw in redis.Redis.from_url(redis_server.url).lrange("celery", 0, -1)
    ]
    recounts = [q for q in queued if q["headers"]["task"] == recount_usage_task.name]
    assert len(recounts) == 1
    eta = dt.datetime.fromisoformat(recounts[0]["headers"]["eta"])
    assert (eta - timezone.now()).total_seconds() > USAGE_RECOUNT_DELAY - 5
    assert recounts[0]["headers"]["tenant_id"] == str(church.tenant.id)
    with tenant_context(church.tenant):
        before = DailyUsage.objects.get(date=timezone.now().date()).messages
        recount_usage_task.run(timezone.now().date().isoformat())
        after = DailyUsage.objects.get(date=timezone.now().date()).messages
    assert after == before + len(phones)  # every thank-you, counted by the one recount


def test_a_survey_is_sent_like_a_broadcast(church, outbox):
    """Opted-out members are skipped, quiet hours defer, the quota refuses."""
    set_quiet_hours(church.client, "America/New_York")
    for n in (1, 2, 3):
        add_member(church.client, f"+1415555010{n}")
    assert inbound(church.client, "+14155550103", "STOP").status_code == 200
    at_night = dt.datetime(2026, 7, 15, 6, 0, tzinfo=dt.UTC)  # 02:00 in New York
    with time_machine.travel(at_night, tick=False):
        made = start(fresh(church))
    assert made.status_code == 201, made.content
    assert made.json()["recipient_count"] == 2  # the one who said STOP is not asked
    question = made.json()["question"]
    assert question not in [m.body for m in outbox]  # not at 02:00
    with tenant_context(church.tenant):
        waiting = Message.objects.filter(body=question, status="queued")
        assert sorted(waiting.values_list("to_number", flat=True)) == [
            "+14155550101",
            "+14155550102",
        ]
        assert {m.send_after for m in waiting} == {
            dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC)  # 08:00 in New York
        }
    Plan.objects.filter(code="trial").update(included_segments=3)
    for n in (4, 5):  # not surveyed yet: two questions, one segment left
        add_member(church.client, f"+1415555010{n}")
    refused = start(church.client, name="Over the quota")
    assert refused.status_code == 402
    assert refused.json()["code"] == "quota_exceeded"
    with tenant_context(church.tenant):
        assert Survey.objects.count() == 1


def test_a_survey_reads_its_recipients_once(church, outbox):
    for phone in ("+14155550101", "+14155550102"):
        add_member(church.client, phone)
    with tenant_context(church.tenant):
        queries = CaptureQueriesContext(connections[church.tenant.alias])
    with queries:
        assert start(church.client).status_code == 201
    # The members to ask (the eligible ones, with their branch) are loaded
    # once: the count of those surveyed lately comes from the same list.
    loads = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "members_member" LEFT OUTER JOIN "branches_branch"' in q["sql"]
    ]
    assert len(loads) == 1, loads
