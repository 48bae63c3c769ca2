"""Every path that creates, imports, opts in or opts out a member leaves a
consent record in the church's database and, for opt-outs and opt-ins, an
event in the registry holding only the phone's keyed hash."""

from members.models import ConsentRecord, Member
from tenants.context import tenant_context
from tenants.models import PrivacyEvent
from tenants.privacy import phone_hash
from tests.members.test_members_api import HEADER, upload
from tests.messaging.fixtures import add_member
from tests.messaging.test_webhooks import inbound

PHONE = "+14155550101"


def _records(tenant) -> list[ConsentRecord]:
    with tenant_context(tenant):
        return list(ConsentRecord.objects.all())


def test_a_member_created_by_staff_records_who_gave_consent(alice):
    member = add_member(alice.client, PHONE)
    [record] = _records(alice.tenant)
    assert (record.kind, record.source) == ("consent", "staff")
    assert record.actor == str(alice.user.id)
    assert str(record.member_id) == member["id"]
    assert record.phone == PHONE
    with tenant_context(alice.tenant):
        assert record.phone_hash == phone_hash(PHONE)
    assert PHONE not in record.phone_hash


def test_an_import_records_its_id_on_each_new_member(alice):
    text = HEADER + "Ann,Lee,+14155550101,,,\nBo,Ray,+14155550102,,,\n"
    report = upload(alice.client, text).json()
    assert report["created"] == 2
    records = _records(alice.tenant)
    assert {r.source for r in records} == {"import"}
    assert {r.detail for r in records} == {report["import_id"]}
    assert {r.actor for r in records} == {str(alice.user.id)}
    # Importing the same rows again creates nothing and records nothing.
    assert upload(alice.client, text).json()["created"] == 0
    assert len(_records(alice.tenant)) == 2


def test_stop_and_start_are_recorded_here_and_in_the_registry(church):
    add_member(church.client, PHONE)
    assert inbound(church.client, PHONE, " stop ").status_code == 200
    assert inbound(church.client, PHONE, "START").status_code == 200
    records = _records(church.tenant)
    assert [(r.kind, r.source, r.detail, r.actor) for r in records] == [
        ("consent", "staff", "", str(church.user.id)),
        ("revoked", "keyword", "STOP", "inbound"),
        ("consent", "keyword", "START", "inbound"),
    ]
    events = list(PrivacyEvent.objects.filter(tenant=church.tenant))
    assert [e.kind for e in events] == ["opt_out", "opt_in"]
    with tenant_context(church.tenant):
        assert {e.phone_hash for e in events} == {phone_hash(PHONE)}


def test_a_stop_from_a_number_that_is_no_member_is_recorded_by_phone(church):
    assert inbound(church.client, PHONE, "STOP").status_code == 200
    [record] = _records(church.tenant)
    assert record.member_id is None
    assert (record.kind, record.phone) == ("revoked", PHONE)


def test_an_opted_out_phone_imported_gets_no_consent_record(church):
    inbound(church.client, PHONE, "STOP")
    upload(church.client, HEADER + "Ann,Lee,+14155550101,,,\n")
    with tenant_context(church.tenant):
        assert Member.objects.get(phone=PHONE).opted_out
    assert [r.kind for r in _records(church.tenant)] == ["revoked"]


def test_the_hash_differs_between_churches(alice, bob):
    with tenant_context(alice.tenant):
        mine = phone_hash(PHONE)
    with tenant_context(bob.tenant):
        theirs = phone_hash(PHONE)
    assert mine != theirs
