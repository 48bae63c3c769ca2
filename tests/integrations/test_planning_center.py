"""Planning Center People sync against the stand-in, through the real client.

The stand-in (`tests.fake_pco`) speaks JSON:API with its rate limit on; its
clock moves only when the client waits, so rate-limited runs take no time.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from integrations import apply as apply_module
from integrations import runs
from integrations.connection import next_night
from integrations.models import (
    PlanningCenterConnection,
    SyncPage,
    SyncRun,
    WebhookEvent,
)
from integrations.tasks import due_syncs_task, start_sync
from members.models import ConsentRecord, ExternalLink, Member, MemberTag, Suppression
from tenants.context import current_alias, tenant_context
from tenants.models import Tenant
from tests.conftest import make_persona, publishing_to
from tests.integrations.conftest import APP_ID, PUBLIC, SECRET, connect, e164, phone
from tests.ports import free_port

BASE = "/api/integrations/planning-center"


def members_of(tenant) -> dict[str, Member]:
    with tenant_context(tenant):
        return {m.phone: m for m in Member.objects.all()}


def tags_of(tenant, number: str) -> set[str]:
    with tenant_context(tenant):
        return set(
            MemberTag.objects.filter(member__phone=number).values_list(
                "name", flat=True
            )
        )


def last_run(tenant) -> SyncRun:
    return SyncRun.objects.filter(tenant=tenant).first()


@pytest.fixture
def youth(pco):
    """A list of three people: a mobile and a home number, a home number
    only, no number at all."""
    youth = pco.add_list("Youth")
    pco.add_person(
        "Ann",
        "Lee",
        phones=[(phone(1), "Home", True), (phone(2), "Mobile", False)],
        emails=[("other@example.org", False), ("ann@example.org", True)],
        lists=[youth],
    )
    pco.add_person("Ben", "Ray", phones=[(phone(3), "Home", True)], lists=[youth])
    pco.add_person("Cat", "Day", lists=[youth])
    return youth


def test_a_wrong_secret_is_refused_with_planning_centers_message(alice, pco, youth):
    answer = connect(alice.client, [youth], secret="wrong")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "validation_error"
    assert "not valid" in body["fields"]["secret"][0]  # Planning Center's words
    assert not PlanningCenterConnection.objects.exists()
    assert alice.client.get(BASE).json() == {"connected": False}


def test_a_list_that_does_not_exist_is_refused_at_connection(alice, pco, youth):
    answer = connect(alice.client, [youth, "999"])
    assert answer.status_code == 400
    assert "999" in answer.json()["fields"]["lists"][0]
    assert not PlanningCenterConnection.objects.exists()


def test_connecting_keeps_the_secret_encrypted_and_subscribes_webhooks(
    alice, pco, youth
):
    answer = connect(alice.client, [youth])
    assert answer.status_code == 200, answer.json()
    state = answer.json()
    assert state["connected"]
    assert state["webhooks"]
    assert state["app_id"] == APP_ID
    assert state["lists"] == [{"id": youth, "name": "Youth"}]
    assert "secret" not in state
    assert SECRET not in str(state)
    stored = PlanningCenterConnection.objects.get()
    assert SECRET not in stored.secret
    for sub in pco.subscriptions.values():
        assert sub["authenticity_secret"] not in str(stored.subscriptions)
    names = sorted(s["name"] for s in pco.subscriptions.values())
    assert len(names) == 9
    assert "people.v2.events.person.updated" in names
    url = f"{PUBLIC}/api/webhooks/planning-center/{stored.webhook_token}"
    assert {s["url"] for s in pco.subscriptions.values()} == {url}
    assert alice.client.get(f"{BASE}/lists").json() == [{"id": youth, "name": "Youth"}]


def test_a_sync_brings_each_person_with_their_mobile_number(alice, pco, youth):
    assert connect(alice.client, [youth]).status_code == 200  # syncs at once
    members = members_of(alice.tenant)
    assert set(members) == {e164(2), e164(3)}  # the mobile, else the primary
    ann = members[e164(2)]
    assert (ann.first_name, ann.last_name, ann.email) == (
        "Ann",
        "Lee",
        "ann@example.org",
    )
    assert tags_of(alice.tenant, e164(2)) == {"pco:Youth"}
    run = last_run(alice.tenant)
    assert (run.status, run.seen, run.created, run.updated) == ("succeeded", 3, 2, 0)
    assert run.skipped == {"no_phone": 1}
    with tenant_context(alice.tenant):
        consent = ConsentRecord.objects.get(member=ann)
        link = ExternalLink.objects.get(member_id=ann.pk)
    assert (consent.source, consent.kind) == ("integration", "consent")
    assert link.external_id in pco.people
    runs_page = alice.client.get(f"{BASE}/runs").json()
    assert runs_page["results"][0]["created"] == 2


def test_a_resync_with_nothing_changed_writes_nothing(alice, pco, youth):
    connect(alice.client, [youth])
    before = members_of(alice.tenant)
    run, _ = runs.start(alice.tenant, SyncRun.Trigger.MANUAL)
    with tenant_context(alice.tenant):
        with CaptureQueriesContext(connections[current_alias()]) as queries:
            runs.sync(str(run.pk))
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]
    assert writes == []
    run.refresh_from_db()
    assert (run.status, run.created, run.updated, run.seen) == ("succeeded", 0, 0, 3)
    after = members_of(alice.tenant)
    assert {p: m.updated_at for p, m in after.items()} == {
        p: m.updated_at for p, m in before.items()
    }


def test_planning_center_owns_name_phone_email_and_the_church_the_rest(
    alice, pco, youth
):
    connect(alice.client, [youth])
    ben = members_of(alice.tenant)[e164(3)]
    alice.client.patch(
        f"/api/members/{ben.pk}",
        {"notes": "Drives the van", "tags": ["volunteer"], "first_name": "Benny"},
        format="json",
    )
    person = next(p for p, v in pco.people.items() if v["first_name"] == "Ben")
    pco.update_person(
        person,
        last_name="Ray-Smith",
        phones=[(phone(4), "Mobile", True)],
        emails=[("ben@example.org", True)],
    )
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    members = members_of(alice.tenant)
    assert e164(3) not in members
    ben = members[e164(4)]
    assert (ben.first_name, ben.last_name, ben.email) == (
        "Ben",
        "Ray-Smith",
        "ben@example.org",
    )
    assert ben.notes == "Drives the van"
    assert tags_of(alice.tenant, e164(4)) == {"volunteer", "pco:Youth"}
    assert last_run(alice.tenant).updated == 1


def test_an_existing_member_is_matched_by_phone_not_duplicated(alice, pco, youth):
    made = alice.client.post(
        "/api/members", {"first_name": "Annie", "phone": e164(2)}, format="json"
    )
    assert made.status_code == 201
    connect(alice.client, [youth])
    members = members_of(alice.tenant)
    assert len(members) == 2
    assert str(members[e164(2)].pk) == made.json()["id"]
    assert members[e164(2)].first_name == "Ann"
    assert last_run(alice.tenant).updated == 1


def test_an_opted_out_phone_is_never_resubscribed(alice, pco, youth):
    with tenant_context(alice.tenant):
        Suppression.objects.create(phone=e164(2), source="keyword")
    connect(alice.client, [youth])
    members = members_of(alice.tenant)
    assert members[e164(2)].opted_out is True
    assert members[e164(3)].opted_out is False
    with tenant_context(alice.tenant):
        assert not ConsentRecord.objects.filter(phone=e164(2)).exists()
        Member.objects.filter(phone=e164(3)).update(opted_out=True)  # staff said so
    pco.update_person(
        next(p for p, v in pco.people.items() if v["first_name"] == "Ben"),
        first_name="Benjamin",
    )
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    ben = members_of(alice.tenant)[e164(3)]
    assert (ben.first_name, ben.opted_out) == ("Benjamin", True)


def test_an_erased_person_is_never_recreated(alice, pco, youth):
    connect(alice.client, [youth])
    ann = members_of(alice.tenant)[e164(2)]
    assert alice.client.post(f"/api/members/{ann.pk}/erase").status_code == 204
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    assert e164(2) not in members_of(alice.tenant)
    assert last_run(alice.tenant).skipped == {"no_phone": 1, "erased": 1}
    # Also when erased by phone only, and Planning Center gives a new person id.
    erased = alice.client.post("/api/privacy/erase", {"phone": e164(3)}, format="json")
    assert erased.status_code == 204
    pco.add_person("Ben", "Again", phones=[(phone(3), "Mobile", True)], lists=[youth])
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    assert e164(3) not in members_of(alice.tenant)


def test_a_member_staff_deleted_comes_back_with_the_next_sync(alice, pco, youth):
    connect(alice.client, [youth])
    ben = members_of(alice.tenant)[e164(3)]
    assert alice.client.delete(f"/api/members/{ben.pk}").status_code == 204
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    assert e164(3) in members_of(alice.tenant)
    assert last_run(alice.tenant).created == 1


def test_people_sharing_a_phone_the_first_keeps_the_member(alice, pco, youth):
    pco.add_person("Dan", "Lee", phones=[(phone(2), "Mobile", True)], lists=[youth])
    connect(alice.client, [youth])
    members = members_of(alice.tenant)
    assert members[e164(2)].first_name == "Ann"
    assert last_run(alice.tenant).skipped == {"no_phone": 1, "shared_phone": 1}
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)  # and stays so
    assert members_of(alice.tenant)[e164(2)].first_name == "Ann"


def test_leaving_every_list_takes_the_tags_not_the_member(alice, pco, youth):
    choir = pco.add_list("Choir")
    pco.lists[choir]["people"] = list(pco.lists[youth]["people"][:2])
    connect(alice.client, [youth, choir])
    assert tags_of(alice.tenant, e164(2)) == {"pco:Youth", "pco:Choir"}
    pco.lists[youth]["people"].remove(pco.lists[choir]["people"][0])
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    assert tags_of(alice.tenant, e164(2)) == {"pco:Choir"}
    pco.lists[choir]["people"] = []
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    assert tags_of(alice.tenant, e164(2)) == set()
    assert e164(2) in members_of(alice.tenant)
    # A list no longer chosen: its tags go with the next run.
    connect(alice.client, [choir])
    assert tags_of(alice.tenant, e164(3)) == set()


def test_a_list_gone_from_planning_center_is_an_error_and_the_rest_sync(
    alice, pco, youth
):
    choir = pco.add_list("Choir")
    connect(alice.client, [choir, youth])
    assert tags_of(alice.tenant, e164(2)) == {"pco:Youth"}
    del pco.lists[choir]
    pco.add_person("Eve", phones=[(phone(5), "Mobile", True)], lists=[youth])
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    run = last_run(alice.tenant)
    assert run.status == "succeeded"
    assert run.errors == ["List 'Choir' no longer exists in Planning Center."]
    assert e164(5) in members_of(alice.tenant)


def test_the_rate_limit_is_kept_and_a_429_waited_out(alice, pco, clock, youth):
    for n in range(10, 460):
        pco.add_person(f"P{n}", phones=[(phone(n), "Mobile", True)], lists=[youth])
    pco.limit, pco.period = 3, 20
    connect(alice.client, [youth])  # 2 lists calls, 5 pages: over 3 per 20 s
    run = last_run(alice.tenant)
    assert (run.status, run.created) == ("succeeded", 452)
    assert pco.throttled == 0  # paced under the limit, never refused
    assert clock.slept
    assert run.requests == 6
    # Someone else's share of the account's limit: a 429, waited out.
    pco._window = (clock.now, 3)
    pco.update_person(next(iter(pco.people)), first_name="Annabel")
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    run = last_run(alice.tenant)
    assert run.status == "succeeded"
    assert pco.throttled >= 1
    assert members_of(alice.tenant)[e164(2)].first_name == "Annabel"


def test_planning_center_failing_fails_the_run_and_it_is_tried_later(alice, pco, youth):
    connect(alice.client, [youth])
    connection = PlanningCenterConnection.objects.get()
    pco.fail_next = [(500, "Something went wrong")]
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    run = last_run(alice.tenant)
    assert run.status == "failed"
    assert "Something went wrong" in run.errors[-1]
    connection.refresh_from_db()
    assert (connection.next_sync_at - run.finished_at).total_seconds() <= 30 * 60 + 1


def test_a_run_stopped_by_a_crash_resumes_from_its_last_page(
    alice, pco, youth, monkeypatch
):
    for n in range(10, 310):
        pco.add_person(f"P{n}", phones=[(phone(n), "Mobile", True)], lists=[youth])
    connect(alice.client, [])
    PlanningCenterConnection.objects.update(lists=[{"id": youth, "name": "Youth"}])
    real = runs.apply_people
    calls = []

    def crash_on_third(people, tag, state):
        calls.append(len(people))
        if len(calls) == 3:
            raise SystemExit("the worker died")
        return real(people, tag, state)

    monkeypatch.setattr(runs, "apply_people", crash_on_third)
    run, _ = runs.start(alice.tenant, SyncRun.Trigger.MANUAL)
    with tenant_context(alice.tenant), pytest.raises(SystemExit):
        runs.sync(str(run.pk))
    run.refresh_from_db()
    assert run.status == "running"
    assert run.created == 199
    assert runs.start(alice.tenant, SyncRun.Trigger.MANUAL) == (
        run,
        False,
    )  # no overlap
    with tenant_context(alice.tenant):
        assert runs.sync(str(run.pk)) is None  # its lease still holds
    monkeypatch.setattr(runs, "apply_people", real)
    an_hour_ago = timezone.now() - timezone.timedelta(hours=1)
    SyncRun.objects.filter(pk=run.pk).update(lease_until=an_hour_ago)  # it died
    fetched = len(pco.requests)
    assert due_syncs_task() == 1
    pages = [path for _, path in pco.requests[fetched:] if "/people?" in path]
    assert len(pages) == 2
    assert "offset=200" in pages[0]
    run.refresh_from_db()
    assert (run.status, run.created, run.attempts) == ("succeeded", 302, 2)
    assert len(members_of(alice.tenant)) == 302


def test_sync_now_answers_202_with_the_run(alice, pco, youth):
    connect(alice.client, [youth])
    answer = alice.client.post(f"{BASE}/sync")
    assert answer.status_code == 202
    assert answer.json()["status"] == "succeeded"  # eager here: done already
    assert alice.client.get(f"{BASE}/runs").json()["count"] == 2


def test_nightly_syncs_are_spread_over_the_night_and_started_when_due(
    alice, pco, youth
):
    now = timezone.now()
    churches = [
        SimpleNamespace(pk=uuid.uuid4(), timezone="America/Chicago") for _ in range(60)
    ]
    slots = [next_night(c, now).astimezone(ZoneInfo(c.timezone)) for c in churches]
    assert all(1 <= slot.hour < 5 for slot in slots)
    assert all(0 < (slot - now).total_seconds() <= 86400 for slot in slots)
    assert len({(s.hour, s.minute) for s in slots}) >= 30  # spread, not stacked
    connect(alice.client, [youth])
    assert due_syncs_task() == 0
    PlanningCenterConnection.objects.filter(tenant=alice.tenant).update(
        next_sync_at=alice.tenant.created_at
    )
    assert due_syncs_task() == 1
    assert last_run(alice.tenant).trigger == "nightly"
    assert PlanningCenterConnection.objects.get(tenant=alice.tenant).next_sync_at > (
        last_run(alice.tenant).started_at
    )


def test_only_the_owner_connects_and_admins_see_it(alice, pco, youth):
    staff = make_persona(alice.tenant, role="staff")
    admin = make_persona(alice.tenant, role="admin")
    assert connect(staff.client, [youth]).status_code == 403
    assert connect(admin.client, [youth]).status_code == 403
    connect(alice.client, [youth])
    assert admin.client.get(BASE).json()["connected"] is True
    assert staff.client.get(BASE).status_code == 403
    assert admin.client.delete(BASE).status_code == 403
    assert admin.client.post(f"{BASE}/sync").status_code == 202


def test_disconnecting_removes_the_webhooks_and_keeps_the_members(alice, pco, youth):
    connect(alice.client, [youth])
    assert alice.client.delete(BASE).status_code == 204
    assert pco.subscriptions == {}
    assert alice.client.get(BASE).json() == {"connected": False}
    assert len(members_of(alice.tenant)) == 2
    assert alice.client.post(f"{BASE}/sync").json()["code"] == "not_found"
    assert alice.client.get(f"{BASE}/lists").status_code == 404


def test_a_purged_church_leaves_no_connection_runs_or_webhooks(alice, bob, pco, youth):
    connect(alice.client, [youth])
    connect(bob.client, [youth])
    assert SyncRun.objects.filter(tenant=alice.tenant).exists()
    call_command("delete_tenant", alice.tenant.slug, "--now")
    kept = PlanningCenterConnection.objects.get()  # bob's, untouched
    assert kept.tenant_id == bob.tenant.id
    assert len(pco.subscriptions) == len(kept.subscriptions) > 0
    assert all(kept.webhook_token in s["url"] for s in pco.subscriptions.values())
    assert not SyncRun.objects.filter(tenant=alice.tenant).exists()
    assert SyncRun.objects.filter(tenant=bob.tenant).exists()
    assert not SyncPage.objects.filter(run__tenant=alice.tenant).exists()


@pytest.mark.parametrize("trouble", ["planning center down", "secret unreadable"])
def test_a_purge_goes_on_whatever_planning_center_says(alice, pco, youth, trouble):
    connect(alice.client, [youth])
    if trouble == "planning center down":
        pco.stop()  # its subscriptions only post to a URL that now answers 404
    else:  # e.g. CREDENTIALS_KEY changed since it was stored
        PlanningCenterConnection.objects.update(secret="not-a-token")
    call_command("delete_tenant", alice.tenant.slug, "--now")
    assert not PlanningCenterConnection.objects.exists()
    assert Tenant.objects.get(pk=alice.tenant.pk).status == "deleted"


def test_planning_center_down_is_a_502_with_its_message(alice, pco, youth):
    pco.fail_next = [(503, "Down for maintenance")]
    answer = connect(alice.client, [youth])
    assert answer.status_code == 502
    assert answer.json()["code"] == "upstream_error"
    assert "Down for maintenance" in answer.json()["message"]
    pco.stop()
    answer = connect(alice.client, [youth])
    assert answer.status_code == 502


@pytest.mark.parametrize(
    "body",
    [
        {"app_id": "x", "secret": "y"},
        {"app_id": "x", "secret": "y", "lists": "1"},
        {"app_id": "x", "secret": "y", "lists": ["../1"]},
        {"app_id": "", "secret": "y", "lists": []},
        {"app_id": "x" * 201, "secret": "y", "lists": []},
        ["not", "an", "object"],
    ],
)
def test_bad_connection_input_is_a_400(alice, pco, body):
    answer = alice.client.put(BASE, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] in {"validation_error", "parse_error"}
    assert not PlanningCenterConnection.objects.exists()


# --- webhooks ------------------------------------------------------------------


def deliver(anon, connection, body, headers):
    return anon.generic(
        "POST",
        f"/api/webhooks/planning-center/{connection.webhook_token}",
        body,
        content_type="application/json",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )


def test_a_webhook_updates_the_person_once(alice, anon, pco, youth):
    connect(alice.client, [youth])
    connection = PlanningCenterConnection.objects.get()
    ann = next(p for p, v in pco.people.items() if v["first_name"] == "Ann")
    pco.update_person(ann, last_name="Lee-Park")
    body, headers = pco.delivery("people.v2.events.person.updated", ann)
    answer = deliver(anon, connection, body, headers)
    assert answer.status_code == 200
    assert answer.json()["handled"] == 1
    assert members_of(alice.tenant)[e164(2)].last_name == "Lee-Park"
    # The same delivery again changes nothing, even if Planning Center did.
    pco.update_person(ann, last_name="Other")
    assert deliver(anon, connection, body, headers).json()["handled"] == 0
    assert members_of(alice.tenant)[e164(2)].last_name == "Lee-Park"
    assert WebhookEvent.objects.count() == 1


def test_a_phone_number_webhook_moves_the_member_to_the_new_mobile(
    alice, anon, pco, youth
):
    connect(alice.client, [youth])
    connection = PlanningCenterConnection.objects.get()
    ben = next(p for p, v in pco.people.items() if v["first_name"] == "Ben")
    pco.update_person(
        ben, phones=[(phone(3), "Home", True), (phone(7), "Mobile", False)]
    )
    body, headers = pco.delivery(
        "people.v2.events.phone_number.created", ben, kind="PhoneNumber"
    )
    assert deliver(anon, connection, body, headers).status_code == 200
    members = members_of(alice.tenant)
    assert e164(7) in members
    assert e164(3) not in members


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
    alice, anon, pco, youth
):
    connect(alice.client, [youth])
    connection = PlanningCenterConnection.objects.get()
    ann = next(p for p, v in pco.people.items() if v["first_name"] == "Ann")
    pco.update_person(ann, last_name="Forged")
    body, headers = pco.delivery("people.v2.events.person.updated", ann)
    for signature in ["0" * 64, "", headers["X-PCO-Webhooks-Authenticity"][:-1]]:
        answer = deliver(
            anon,
            connection,
            body,
            {**headers, "X-PCO-Webhooks-Authenticity": signature},
        )
        assert answer.status_code == 403
        assert answer.json()["code"] == "invalid_signature"
    tampered = body.replace(b"person.updated", b"person.destroyed")
    assert deliver(anon, connection, tampered, headers).status_code == 403
    assert members_of(alice.tenant)[e164(2)].last_name == "Lee"
    assert not WebhookEvent.objects.exists()
    assert anon.post("/api/webhooks/planning-center/nope", {}).status_code == 404


def test_a_person_deleted_in_planning_center_loses_the_tags_only(
    alice, anon, pco, youth
):
    connect(alice.client, [youth])
    connection = PlanningCenterConnection.objects.get()
    ann = next(p for p, v in pco.people.items() if v["first_name"] == "Ann")
    del pco.people[ann]
    pco.lists[youth]["people"].remove(ann)
    body, headers = pco.delivery("people.v2.events.person.destroyed", ann)
    assert deliver(anon, connection, body, headers).status_code == 200
    assert e164(2) in members_of(alice.tenant)
    assert tags_of(alice.tenant, e164(2)) == set()


def test_one_churchs_sync_and_webhooks_never_touch_another(
    alice, bob, anon, pco, youth
):
    with tenant_context(bob.tenant):
        Member.objects.create(first_name="Bob's", phone=e164(2))
    connect(alice.client, [youth])
    connect(bob.client, [])
    assert {m.first_name for m in members_of(bob.tenant).values()} == {"Bob's"}
    run = last_run(alice.tenant)
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", lease_until=run.started_at
    )
    with tenant_context(bob.tenant):
        assert runs.sync(str(run.pk)) is None  # alice's run, in bob's church
    assert SyncRun.objects.get(pk=run.pk).attempts == run.attempts  # untouched
    SyncRun.objects.filter(pk=run.pk).update(status="succeeded")
    # Bob's webhook URL with Alice's signed delivery: refused.
    ann = next(p for p, v in pco.people.items() if v["first_name"] == "Ann")
    bobs = PlanningCenterConnection.objects.get(tenant=bob.tenant)
    alices = PlanningCenterConnection.objects.get(tenant=alice.tenant)
    assert {s["id"] for s in bobs.subscriptions}.isdisjoint(
        {s["id"] for s in alices.subscriptions}
    )
    body, headers = pco.delivery(
        "people.v2.events.person.updated",
        ann,
        subscription=alices.subscriptions[0]["id"],
    )
    assert deliver(anon, bobs, body, headers).status_code == 403
    assert {m.first_name for m in members_of(bob.tenant).values()} == {"Bob's"}


def test_a_person_on_two_lists_is_counted_once(alice, pco, youth):
    choir = pco.add_list("Choir")
    pco.lists[choir]["people"] = list(pco.lists[youth]["people"])
    connect(alice.client, [youth, choir])
    run = last_run(alice.tenant)
    assert (run.seen, run.created, run.skipped) == (3, 2, {"no_phone": 1})
    assert tags_of(alice.tenant, e164(3)) == {"pco:Youth", "pco:Choir"}


# --- what a sync must survive -----------------------------------------------------


def test_someone_erased_during_a_run_is_not_recreated_by_it(
    alice, pco, youth, monkeypatch
):
    connect(alice.client, [youth])
    ben = members_of(alice.tenant)[e164(3)]
    real = runs.apply_people

    def erase_first(people, tag, state):  # staff erase Ben as the page comes in
        if e164(3) in members_of(alice.tenant):
            erased = alice.client.post(f"/api/members/{ben.pk}/erase")
            assert erased.status_code == 204
        return real(people, tag, state)

    monkeypatch.setattr(runs, "apply_people", erase_first)
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    assert e164(3) not in members_of(alice.tenant)
    assert last_run(alice.tenant).skipped == {"no_phone": 1, "erased": 1}


def test_a_stop_while_a_page_is_applied_is_not_undone(alice, pco, youth, monkeypatch):
    connect(alice.client, [youth])
    ben_id = next(p for p, v in pco.people.items() if v["first_name"] == "Ben")
    pco.update_person(ben_id, first_name="Benjamin")
    real = apply_module.refused

    def stop_after_reading(phones):  # Ben texts STOP once the page has read
        found = real(phones)
        Suppression.objects.create(phone=e164(3), source="keyword")
        Member.objects.filter(phone=e164(3)).update(opted_out=True)
        return found

    monkeypatch.setattr(apply_module, "refused", stop_after_reading)
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    ben = members_of(alice.tenant)[e164(3)]
    assert (ben.first_name, ben.opted_out) == ("Benjamin", True)


def test_lists_whose_names_make_one_tag_keep_everyone_on_either(alice, pco, youth):
    again = pco.add_list(" Youth ")
    pco.add_person("Eve", phones=[(phone(5), "Mobile", True)], lists=[again])
    connect(alice.client, [youth, again])
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    for number in (e164(2), e164(3), e164(5)):
        assert tags_of(alice.tenant, number) == {"pco:Youth"}


def test_odd_answers_from_planning_center_are_cleaned_or_skipped(alice, pco, youth):
    odd = pco.add_list("Wor\x00ship")
    pco.add_person(
        "Z\x00oe", "Ng\x00", phones=[(phone(6), "Mobile", True)], lists=[odd]
    )
    connect(alice.client, [odd])
    zoe = members_of(alice.tenant)[e164(6)]
    assert (zoe.first_name, zoe.last_name) == ("Zoe", "Ng")
    assert tags_of(alice.tenant, e164(6)) == {"pco:Worship"}


def test_a_subscription_without_its_secret_is_refused_and_nothing_kept(
    alice, pco, youth
):
    pco.omit_secret = True
    answer = connect(alice.client, [youth])
    assert answer.status_code == 502
    assert "secret" in answer.json()["message"]
    assert not PlanningCenterConnection.objects.exists()
    assert pco.subscriptions == {}  # the ones made were removed again


def test_a_rate_limit_that_does_not_lift_fails_the_run_not_the_lease(
    alice, pco, youth, clock, settings
):
    connect(alice.client, [youth])
    settings.PLANNING_CENTER_MAX_WAIT_SECONDS = 30
    pco.period = 86_400  # believed up to a minute
    pco._window = (clock.now, pco.limit)  # the account's share used up
    pco.limit = 1
    start_sync(alice.tenant, SyncRun.Trigger.MANUAL)
    run = last_run(alice.tenant)
    assert run.status == "failed"
    assert "rate limit did not lift" in run.errors[-1]
    assert sum(clock.slept) <= 30  # gave up at its deadline, not after a day


def test_a_webhook_the_broker_cannot_take_is_refused_for_a_retry(
    alice, anon, pco, youth
):
    connect(alice.client, [youth])
    connection = PlanningCenterConnection.objects.get()
    ann = next(p for p, v in pco.people.items() if v["first_name"] == "Ann")
    pco.update_person(ann, last_name="Later")
    body, headers = pco.delivery("people.v2.events.person.updated", ann)
    with publishing_to(f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens
        answer = deliver(anon, connection, body, headers)
    assert answer.status_code == 503
    assert not WebhookEvent.objects.exists()  # so the redelivery is handled
    assert deliver(anon, connection, body, headers).json()["handled"] == 1
    assert members_of(alice.tenant)[e164(2)].last_name == "Later"


def test_operators_see_connections_and_runs_never_the_secret(alice, pco, youth, client):
    connect(alice.client, [youth])
    User.objects.create_superuser("ops@example.org", "operator passphrase 1")
    client.login(email="ops@example.org", password="operator passphrase 1")
    connection = PlanningCenterConnection.objects.get()
    run = last_run(alice.tenant)
    for url in (
        "/admin/integrations/planningcenterconnection/",
        f"/admin/integrations/planningcenterconnection/{connection.pk}/change/",
        "/admin/integrations/syncrun/",
        f"/admin/integrations/syncrun/{run.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert SECRET.encode() not in page.content
        assert connection.secret.encode() not in page.content
    assert client.get("/admin/integrations/syncrun/add/").status_code == 403


def test_a_new_token_that_cannot_subscribe_keeps_the_old_connection(alice, pco, youth):
    connect(alice.client, [youth])
    before = PlanningCenterConnection.objects.get()
    pco.secret, pco.omit_secret = "rotated-secret", True
    answer = connect(alice.client, [youth], secret="rotated-secret")
    assert answer.status_code == 502
    kept = PlanningCenterConnection.objects.get()
    assert (kept.pk, kept.webhook_token) == (before.pk, before.webhook_token)
    assert alice.client.get(BASE).json()["connected"] is True
