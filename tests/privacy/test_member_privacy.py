"""A member's export and erasure: everything shown, then nothing left but counts
and the keyed hash that keeps a STOP."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from members.models import ConsentRecord, ErasedSuppression, Member, Suppression
from messaging.models import Broadcast, Conversation, DailyUsage, Message
from tenants.context import tenant_context
from tenants.models import PrivacyEvent
from tenants.privacy import phone_hash
from tests.conftest import make_persona
from tests.messaging.fixtures import add_member, send
from tests.messaging.test_webhooks import inbound
from tests.privacy.dump import dump_text

PHONE = "+14155550123"
PERSON = {
    "first_name": "Zebedee",
    "last_name": "Quillfeather",
    "email": "zebedee.quill@example.org",
}
SECRET = "my very private prayer request"


def _texted_person(church) -> dict:
    church.client.post("/api/branches", {"name": "Eastside"}, format="json")
    branch = church.client.get("/api/branches").json()["results"][0]["id"]
    member = add_member(
        church.client, PHONE, branch=branch, tags=["choir"], notes="knee", **PERSON
    )
    assert (
        send(
            church.client, body="Hi {first_name}!", recipients={"all": True}
        ).status_code
        == 202
    )
    assert inbound(church.client, PHONE, SECRET).status_code == 200
    return member


def test_the_export_holds_everything_about_the_member(church):
    member = _texted_person(church)
    other = add_member(church.client, "+14155550199", first_name="Other")
    inbound(church.client, other["phone"], "not in the export")
    answer = church.client.get(f"/api/members/{member['id']}/export")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/json")
    document = json.loads(b"".join(answer.streaming_content))
    assert document["member"]["last_name"] == "Quillfeather"
    assert document["branch"]["name"] == "Eastside"
    assert document["tags"] == ["choir"]
    assert [(c["kind"], c["source"]) for c in document["consent"]] == [
        ("consent", "staff")
    ]
    assert document["opt_outs"] == []
    bodies = [m["body"] for m in document["messages"]]
    assert bodies == ["Hi Zebedee!", SECRET]
    assert "not in the export" not in json.dumps(document)
    assert len(document["conversations"]) == 1
    assert document["generated_at"]


def test_export_and_erase_are_for_admins_and_the_church_own_members(church, bob):
    member = _texted_person(church)
    staff = make_persona(church.tenant, role="member")
    for path in [f"/api/members/{member['id']}/export"]:
        assert staff.client.get(path).status_code == 403
        assert bob.client.get(path).status_code == 404  # another church's id
        assert church.client.get("/api/members/nope/export").status_code == 404
    erase = f"/api/members/{member['id']}/erase"
    assert staff.client.post(erase).status_code == 403
    assert bob.client.post(erase).status_code == 404
    assert (
        bob.client.post(
            "/api/privacy/erase", {"phone": PHONE}, format="json"
        ).status_code
        == 204
    )
    with tenant_context(church.tenant):
        assert Member.objects.filter(phone=PHONE).exists()  # bob's erase was his own


@pytest.mark.parametrize(
    "bad", [{}, {"phone": "abc"}, {"phone": "+1415\x00555"}, {"phone": ["x"]}]
)
def test_a_bad_phone_is_a_validation_error_and_erases_nothing(church, bad):
    _texted_person(church)
    answer = church.client.post("/api/privacy/erase", bad, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert "phone" in answer.json()["fields"]
    with tenant_context(church.tenant):
        assert Member.objects.filter(phone=PHONE).exists()


def test_after_erasure_the_dump_holds_no_trace_but_the_counts_survive(church):
    member = _texted_person(church)
    assert inbound(church.client, PHONE, "STOP").status_code == 200
    with tenant_context(church.tenant):
        messages_before = Message.objects.count()
        usage_before = list(DailyUsage.objects.values_list("messages", "segments"))
    assert PERSON["last_name"] in dump_text(church.tenant)

    assert church.client.post(f"/api/members/{member['id']}/erase").status_code == 204

    dump = dump_text(church.tenant)
    for trace in [PHONE, PHONE[1:], *PERSON.values(), SECRET, "Hi Zebedee", "knee"]:
        assert trace not in dump, trace
    with tenant_context(church.tenant):
        assert Message.objects.count() == messages_before
        assert (
            list(DailyUsage.objects.values_list("messages", "segments")) == usage_before
        )
        assert (
            not Member.objects.exists()
            or not Member.objects.filter(pk=member["id"]).exists()
        )
        assert not Suppression.objects.filter(phone=PHONE).exists()
        assert ErasedSuppression.objects.filter(pk=phone_hash(PHONE)).exists()
        audit = ConsentRecord.objects.get(source="erasure")
    assert (audit.actor, audit.detail) == (str(church.user.id), member["id"])
    event = PrivacyEvent.objects.get(tenant=church.tenant, kind="erasure")
    assert str(event.member_id) == member["id"]
    assert church.client.get(f"/api/members/{member['id']}").status_code == 404


def test_an_erased_opted_out_phone_stays_opted_out_when_added_again(church, outbox):
    member = _texted_person(church)
    inbound(church.client, PHONE, "STOP")
    church.client.post(f"/api/members/{member['id']}/erase")
    again = add_member(church.client, PHONE, first_name="Again")
    assert again["opted_out"] is True
    add_member(church.client, "+14155550199", first_name="Other")
    outbox.clear()
    answer = send(church.client, body="Hello all", recipients={"all": True})
    assert answer.status_code == 202
    assert answer.json()["opted_out_skipped"] == 1
    assert PHONE not in [m.to for m in outbox]


def test_a_later_text_from_an_erased_number_starts_a_new_thread(church):
    member = _texted_person(church)
    with tenant_context(church.tenant):
        old_thread = Conversation.objects.get().pk
    church.client.post(f"/api/members/{member['id']}/erase")
    assert inbound(church.client, PHONE, "Hello again").status_code == 200
    with tenant_context(church.tenant):
        fresh = Conversation.objects.get(phone=PHONE)
        assert fresh.pk != old_thread
        assert Conversation.objects.get(pk=old_thread).phone == phone_hash(PHONE)


def test_erasing_a_phone_that_is_no_member_forgets_its_thread_and_keeps_its_stop(
    church,
):
    inbound(church.client, PHONE, SECRET)
    inbound(church.client, PHONE, "STOP")
    answer = church.client.post(
        "/api/privacy/erase", {"phone": "(415) 555-0123"}, format="json"
    )
    assert answer.status_code == 204
    dump = dump_text(church.tenant)
    assert PHONE not in dump
    assert SECRET not in dump
    assert add_member(church.client, PHONE)["opted_out"] is True


def test_a_broadcast_to_the_erased_member_alone_loses_its_body(church):
    member = _texted_person(church)
    other = add_member(church.client, "+14155550199", first_name="Other")
    send(
        church.client,
        body="Just for you, Zebedee",
        recipients={"members": [member["id"]]},
    )
    send(
        church.client,
        body="For two",
        recipients={"members": [member["id"], other["id"]]},
    )
    church.client.post(f"/api/members/{member['id']}/erase")
    with tenant_context(church.tenant):
        bodies = set(Broadcast.objects.values_list("body", flat=True))
    assert "Just for you, Zebedee" not in bodies
    assert "For two" in bodies  # sent to someone else too


def test_a_message_still_queued_for_the_erased_member_is_cancelled(church, outbox):
    member = _texted_person(church)
    tomorrow = (timezone.now() + dt.timedelta(days=1)).isoformat()
    scheduled = send(
        church.client, body="Later, {first_name}", recipients={"all": True},
        scheduled_at=tomorrow,
    )  # fmt: skip
    assert scheduled.status_code == 202, scheduled.content
    church.client.post(f"/api/members/{member['id']}/erase")
    with tenant_context(church.tenant):
        waiting = Message.objects.filter(broadcast_id=scheduled.json()["id"]).get()
    assert (waiting.status, waiting.error_code, waiting.body) == (
        "canceled",
        "erased",
        "",
    )


def test_erasing_a_number_again_after_it_texted_anew_works(church):
    member = _texted_person(church)
    church.client.post(f"/api/members/{member['id']}/erase")
    inbound(church.client, PHONE, "I am back")
    again = church.client.post("/api/privacy/erase", {"phone": PHONE}, format="json")
    assert again.status_code == 204
    with tenant_context(church.tenant):
        assert Conversation.objects.count() == 2
        assert not Conversation.objects.filter(phone=PHONE).exists()
    assert "I am back" not in dump_text(church.tenant)


def test_an_earlier_number_of_the_member_that_opted_out_is_kept_only_hashed(church):
    member = _texted_person(church)
    inbound(church.client, PHONE, "STOP")
    new_phone = "+14155550188"
    changed = church.client.patch(
        f"/api/members/{member['id']}", {"phone": new_phone}, format="json"
    )
    assert changed.status_code == 200
    church.client.post(f"/api/members/{member['id']}/erase")
    with tenant_context(church.tenant):
        assert not Suppression.objects.exists()
        assert ErasedSuppression.objects.filter(pk=phone_hash(PHONE)).exists()
    dump = dump_text(church.tenant)
    assert PHONE not in dump
    assert new_phone not in dump
