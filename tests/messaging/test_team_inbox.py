"""The team inbox: assignment, internal notes, filters, shared unread, sent_by."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import make_persona
from tests.messaging.fixtures import add_member
from tests.messaging.test_webhooks import inbound

BASE = "/api/messages/conversations"


@pytest.fixture
def team(church):
    """The church's owner and a second staff member, each with their client."""
    return church, make_persona(church.tenant, role="staff")


def thread_of(client, phone: str) -> dict:
    threads = client.get(BASE).json()["results"]
    return next(t for t in threads if t["phone"] == phone)


def test_assign_filter_and_unassign(team):
    owner, staff = team
    for n in (1, 2, 3):
        add_member(owner.client, f"+1415555010{n}")
        inbound(owner.client, f"+1415555010{n}", "Hello")
    first = thread_of(owner.client, "+14155550101")
    second = thread_of(owner.client, "+14155550102")
    assert first["assignee"] is None

    mine = owner.client.patch(
        f"{BASE}/{first['id']}", {"assignee": str(owner.user.id)}, format="json"
    )
    assert mine.status_code == 200, mine.content
    assert mine.json()["assignee"] == str(owner.user.id)
    theirs = owner.client.patch(
        f"{BASE}/{second['id']}",
        {"assignee": str(staff.user.id), "status": "closed"},
        format="json",
    )
    assert theirs.json()["assignee"] == str(staff.user.id)
    assert theirs.json()["status"] == "closed"

    def phones(query: str, client: APIClient = owner.client) -> list[str]:
        answer = client.get(f"{BASE}?{query}")
        assert answer.status_code == 200, answer.content
        return sorted(t["phone"] for t in answer.json()["results"])

    assert phones("assignee=me") == ["+14155550101"]
    assert phones("assignee=me", staff.client) == ["+14155550102"]
    assert phones("assignee=none") == ["+14155550103"]
    assert phones(f"assignee={staff.user.id}") == ["+14155550102"]
    assert phones("status=open") == ["+14155550101", "+14155550103"]
    assert phones("assignee=none&status=closed") == []

    cleared = owner.client.patch(
        f"{BASE}/{first['id']}", {"assignee": None}, format="json"
    )
    assert cleared.json()["assignee"] is None
    assert phones("assignee=none") == ["+14155550101", "+14155550103"]


def test_another_churchs_user_is_refused_and_nothing_changes(team, bob):
    owner, _ = team
    add_member(owner.client, "+14155550101")
    inbound(owner.client, "+14155550101", "Hello")
    thread = thread_of(owner.client, "+14155550101")
    stranger = "00000000-0000-4000-8000-000000000000"
    for someone in (str(bob.user.id), stranger):
        refused = owner.client.patch(
            f"{BASE}/{thread['id']}",
            {"assignee": someone, "status": "closed"},
            format="json",
        )
        assert refused.status_code == 400
        body = refused.json()
        assert list(body["fields"]) == ["assignee"]
        # Bob's id and a made-up one read the same: nothing says who exists.
        assert body["fields"]["assignee"] == [
            "Assign the conversation to a member of this church's staff."
        ]
    after = thread_of(owner.client, "+14155550101")
    assert (after["assignee"], after["status"]) == (None, "open")


@pytest.mark.parametrize(
    "query", ["assignee=someone", "status=archived", "assignee=" + "x" * 40]
)
def test_bad_filters_are_400_naming_the_field(church, query):
    answer = church.client.get(f"{BASE}?{query}")
    assert answer.status_code == 400
    assert list(answer.json()["fields"]) == [query.split("=")[0]]


def test_an_empty_patch_is_a_400(church):
    add_member(church.client, "+14155550101")
    inbound(church.client, "+14155550101", "Hello")
    thread = thread_of(church.client, "+14155550101")
    answer = church.client.patch(f"{BASE}/{thread['id']}", {}, format="json")
    assert answer.status_code == 400


def test_notes_are_kept_for_the_team_and_never_sent(team, outbox):
    owner, staff = team
    add_member(owner.client, "+14155550101")
    inbound(owner.client, "+14155550101", "My mother is in hospital")
    thread = thread_of(owner.client, "+14155550101")
    path = f"{BASE}/{thread['id']}/notes"
    written = staff.client.post(path, {"body": "Pastor to call Tuesday"}, format="json")
    assert written.status_code == 201, written.content
    assert written.json()["author"] == str(staff.user.id)
    listed = owner.client.get(path).json()
    assert listed["count"] == 1
    assert listed["results"][0]["body"] == "Pastor to call Tuesday"
    assert outbox == []  # a note is never a message
    history = owner.client.get(f"{BASE}/{thread['id']}").json()["results"]
    assert [m["body"] for m in history] == ["My mother is in hospital"]
    assert owner.client.post(path, {"body": ""}, format="json").status_code == 400
    assert (
        owner.client.post(path, {"body": "x" * 2001}, format="json").status_code == 400
    )


def test_another_churchs_thread_and_notes_are_404(church, bob):
    add_member(church.client, "+14155550101")
    inbound(church.client, "+14155550101", "Hello")
    thread = thread_of(church.client, "+14155550101")
    for answer in (
        bob.client.get(f"{BASE}/{thread['id']}/notes"),
        bob.client.post(f"{BASE}/{thread['id']}/notes", {"body": "x"}, format="json"),
        bob.client.patch(f"{BASE}/{thread['id']}", {"assignee": None}, format="json"),
    ):
        assert answer.status_code == 404


def test_unread_is_shared_and_replies_say_who_sent_them(team, outbox):
    owner, staff = team
    add_member(owner.client, "+14155550101")
    inbound(owner.client, "+14155550101", "One")
    inbound(owner.client, "+14155550101", "Two")
    thread = thread_of(staff.client, "+14155550101")
    assert thread["unread_count"] == 2
    assert staff.client.post(f"{BASE}/{thread['id']}/read").status_code == 204
    assert thread_of(owner.client, "+14155550101")["unread_count"] == 0

    reply = staff.client.post(
        f"{BASE}/{thread['id']}/reply", {"body": "We are praying"}, format="json"
    )
    assert reply.status_code == 201
    assert reply.json()["sent_by"] == str(staff.user.id)
    history = owner.client.get(f"{BASE}/{thread['id']}").json()["results"]
    assert [(m["body"], m["sent_by"]) for m in history] == [
        ("One", None),
        ("Two", None),
        ("We are praying", str(staff.user.id)),
    ]


def test_an_erasure_takes_the_notes_and_an_export_shows_them(church):
    member = add_member(church.client, "+14155550101")
    inbound(church.client, "+14155550101", "Hello")
    thread = thread_of(church.client, "+14155550101")
    path = f"{BASE}/{thread['id']}/notes"
    church.client.post(path, {"body": "Lost her job in May"}, format="json")
    export = church.client.get(f"/api/members/{member['id']}/export")
    content = b"".join(export.streaming_content) if export.streaming else export.content
    assert "Lost her job in May" in content.decode()
    erased = church.client.post(f"/api/members/{member['id']}/erase")
    assert erased.status_code in (200, 204), erased.content
    assert church.client.get(path).json()["count"] == 0
