"""Onboarding: a checklist derived from facts, each step done when it exists."""

import datetime as dt

import pyotp
import time_machine
from django.utils import timezone

from tenants.models import Tenant
from tests.accounts.conftest import PASSWORD, bearer, last_email, link_token, register
from tests.conftest import make_persona
from tests.messaging.fixtures import add_member, send


def steps(client) -> dict:
    answer = client.get("/api/onboarding")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    return {"by_key": {s["key"]: s for s in body["steps"]}, **body}


def test_a_new_church_walks_the_checklist_to_completed(
    anon, registry, mailoutbox, settings
):
    settings.SMS_BACKEND = "locmem"
    settings.SMS_RATE_PER_NUMBER = 0
    owner = register(anon, timezone="America/Chicago", country="US").json()
    client = bearer(anon, owner["access"])
    first = steps(client)
    assert [s["key"] for s in first["steps"]] == [
        "profile", "sending_number", "members", "first_message", "team", "mfa", "plan",
    ]  # fmt: skip
    assert first["by_key"]["profile"]["done"] is True  # chosen at registration
    assert "done_at" in first["by_key"]["profile"]
    assert [k for k, s in first["by_key"].items() if s["done"]] == ["profile"]
    assert (first["completed"], first["dismissed"]) == (False, False)
    for step in first["steps"]:
        assert step["help"].split()[0] in {"PATCH", "POST"}  # names its endpoint

    client.patch("/api/tenant", {"phone_number": "+14155550199", "quiet_hours": None},
                 format="json")  # fmt: skip
    add_member(client, "+14155550101")
    assert send(client, body="Welcome", recipients={"all": True}).status_code == 202
    client.post("/api/users/invitations", {"email": "nia@x.example"}, format="json")
    token = link_token(last_email(mailoutbox, "nia@x.example"), "accept-invitation")
    accept = {"token": token, "password": PASSWORD}
    accepted = anon.post("/api/auth/invitations/accept", accept, format="json")
    assert accepted.status_code == 200, accepted.content
    client = bearer(anon, owner["access"])
    middle = steps(client)
    done = {k for k, s in middle["by_key"].items() if s["done"]}
    assert done == {"profile", "sending_number", "members", "first_message", "team"}
    assert middle["completed"] is False  # the plan is still the trial

    assert client.post("/api/billing/subscribe", {"plan": "starter"},
                       format="json").status_code == 200  # fmt: skip
    last = steps(client)
    assert last["by_key"]["plan"]["done"] is True
    assert last["by_key"]["mfa"]["done"] is False
    assert last["completed"] is True  # MFA is recommended, not required
    assert Tenant.objects.get(pk=owner["tenant"]["id"]).onboarded_at is not None

    setup = client.post("/api/auth/mfa/setup", {"password": PASSWORD}, format="json")
    later = timezone.now() + dt.timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        code = pyotp.TOTP(setup.json()["secret"]).now()
        client.post("/api/auth/mfa/enable", {"code": code}, format="json")
    assert steps(client)["by_key"]["mfa"]["done"] is True


def test_defaults_at_registration_leave_the_profile_to_do_until_changed(anon, registry):
    body = {"organization_name": "Grace", "email": "p@grace.example",
            "password": PASSWORD}  # fmt: skip
    owner = anon.post("/api/auth/register", body, format="json").json()
    client = bearer(anon, owner["access"])
    assert steps(client)["by_key"]["profile"]["done"] is False
    client.patch("/api/tenant", {"timezone": "America/Denver"}, format="json")
    assert steps(client)["by_key"]["profile"]["done"] is True


def test_dismissing_hides_it_for_the_whole_church(alice):
    staff = make_persona(alice.tenant, role="staff")
    assert staff.client.post("/api/onboarding/dismiss").status_code == 403
    assert alice.client.post("/api/onboarding/dismiss").status_code == 204
    assert steps(staff.client)["dismissed"] is True
    assert alice.client.post("/api/onboarding/dismiss").status_code == 204  # again


def test_another_churchs_facts_never_count(alice, bob):
    add_member(bob.client, "+14155550101")
    assert steps(alice.client)["by_key"]["members"]["done"] is False
    assert steps(bob.client)["by_key"]["members"]["done"] is True
