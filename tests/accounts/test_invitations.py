"""Staff join by invitation: the mailbox's holder accepts, nobody else decides."""

import datetime as dt

import pyotp
import time_machine

from accounts.models import Invitation, Membership, User
from tests.accounts.conftest import PASSWORD, bearer, last_email, link_token, login
from tests.conftest import make_persona

ACCEPT = "/api/auth/invitations/accept"


def invite(client, email, role="staff"):
    return client.post(
        "/api/users/invitations", {"email": email, "role": role}, format="json"
    )


def test_an_invitation_is_emailed_and_a_new_address_chooses_its_password(
    alice, anon, mailoutbox
):
    created = invite(alice.client, "New.Person@x.example")
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == "new.person@x.example"
    assert body["status"] == "pending"
    assert set(body) == {"id", "email", "role", "status", "expires_at", "created_at"}
    email = last_email(mailoutbox, "new.person@x.example")
    assert alice.tenant.name in email.subject
    assert email.alternatives  # an HTML body beside the text one
    token = link_token(email, "accept-invitation")

    weak = anon.post(ACCEPT, {"token": token, "password": "short"}, format="json")
    assert weak.status_code == 400
    assert "password" in weak.json()["fields"]
    accepted = anon.post(
        ACCEPT,
        {"token": token, "password": PASSWORD, "first_name": "Nia"},
        format="json",
    )
    assert accepted.status_code == 200, accepted.content
    session = accepted.json()
    assert session["tenant"]["id"] == str(alice.tenant.id)
    assert session["user"]["role"] == "staff"
    assert session["user"]["email_verified"] is True
    assert bearer(anon, session["access"]).get("/api/members").status_code == 200
    # single use
    anon.credentials()
    again = anon.post(ACCEPT, {"token": token, "password": PASSWORD}, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_link"
    listed = alice.client.get("/api/users/invitations").json()["results"]
    assert [i["status"] for i in listed] == ["accepted"]


def test_an_existing_account_proves_itself_and_is_not_changed(
    alice, bob, anon, mailoutbox
):
    invite(alice.client, bob.user.email, role="admin")
    token = link_token(last_email(mailoutbox, bob.user.email), "accept-invitation")
    wrong = anon.post(
        ACCEPT,
        {"token": token, "password": "not bob's password", "first_name": "Pwned"},
        format="json",
    )
    assert wrong.status_code == 401
    assert not Membership.objects.filter(user=bob.user, tenant=alice.tenant).exists()
    # a token of the same account is proof enough
    proven = bearer(anon, bob.access).post(ACCEPT, {"token": token}, format="json")
    assert proven.status_code == 200, proven.content
    assert proven.json()["tenant"]["id"] == str(alice.tenant.id)
    assert proven.json()["user"]["role"] == "admin"
    bob.user.refresh_from_db()
    assert bob.user.first_name != "Pwned"
    assert bob.user.check_password("correct horse battery staple")


def test_another_accounts_token_proves_nothing(alice, bob, anon, mailoutbox):
    invite(alice.client, "someone@x.example")
    token = link_token(last_email(mailoutbox, "someone@x.example"), "accept-invitation")
    User.objects.create_user("someone@x.example", "their own passphrase 42")
    answer = bearer(anon, bob.access).post(ACCEPT, {"token": token}, format="json")
    assert answer.status_code == 401
    assert not Membership.objects.filter(
        tenant=alice.tenant, user__email="someone@x.example"
    ).exists()


def test_an_account_with_mfa_gets_the_mfa_step(alice, bob, anon, mailoutbox):
    bob_client = bob.client
    setup = bob_client.post(
        "/api/auth/mfa/setup",
        {"password": "correct horse battery staple"},
        format="json",
    ).json()
    totp = pyotp.TOTP(setup["secret"])
    assert (
        bob_client.post(
            "/api/auth/mfa/enable", {"code": totp.now()}, format="json"
        ).status_code
        == 200
    )
    invite(alice.client, bob.user.email)
    token = link_token(last_email(mailoutbox, bob.user.email), "accept-invitation")
    answer = anon.post(
        ACCEPT,
        {"token": token, "password": "correct horse battery staple"},
        format="json",
    ).json()
    assert answer["mfa_required"] is True
    assert "access" not in answer


def test_the_answers_to_the_church_never_tell_whether_an_account_exists(
    alice, bob, mailoutbox
):
    known = invite(alice.client, bob.user.email).json()
    unknown = invite(alice.client, "nobody@x.example").json()
    assert set(known) == set(unknown)
    for field in ("role", "status"):
        assert known[field] == unknown[field]
    for answer in alice.client.get("/api/users/invitations").json()["results"]:
        assert "first_name" not in answer
        assert "mfa_enabled" not in answer


def test_only_owners_invite_owners_and_staff_invite_nobody(alice, mailoutbox):
    admin = make_persona(alice.tenant, role="admin")
    staff = make_persona(alice.tenant, role="staff")
    assert invite(admin.client, "o@x.example", role="owner").status_code == 403
    assert invite(admin.client, "a@x.example", role="admin").status_code == 201
    assert invite(staff.client, "s@x.example").status_code == 403
    assert staff.client.get("/api/users/invitations").status_code == 403
    assert invite(alice.client, "o@x.example", role="owner").status_code == 201


def test_resend_replaces_the_link_and_revoke_ends_it(alice, anon, mailoutbox):
    item = invite(alice.client, "n@x.example").json()
    first = link_token(last_email(mailoutbox, "n@x.example"), "accept-invitation")
    resent = alice.client.post(f"/api/users/invitations/{item['id']}/resend")
    assert resent.status_code == 202
    second = link_token(last_email(mailoutbox, "n@x.example"), "accept-invitation")
    assert second != first
    stale = anon.post(ACCEPT, {"token": first, "password": PASSWORD}, format="json")
    assert stale.json()["code"] == "invalid_link"
    assert (
        alice.client.delete(f"/api/users/invitations/{item['id']}").status_code == 204
    )
    revoked = anon.post(ACCEPT, {"token": second, "password": PASSWORD}, format="json")
    assert revoked.json()["code"] == "invalid_link"
    assert not User.objects.filter(email="n@x.example").exists()


def test_an_expired_or_forged_link_is_invalid(alice, anon, mailoutbox, settings):
    invite(alice.client, "late@x.example")
    token = link_token(last_email(mailoutbox, "late@x.example"), "accept-invitation")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(
        days=settings.INVITATION_DAYS, hours=1
    )
    with time_machine.travel(later):
        late = anon.post(ACCEPT, {"token": token, "password": PASSWORD}, format="json")
        assert Invitation.objects.get().status == "expired"
    assert late.json()["code"] == "invalid_link"
    for forged in ("x" * 43, "", "%00", token[:-1]):
        answer = anon.post(
            ACCEPT, {"token": forged, "password": PASSWORD}, format="json"
        )
        assert answer.status_code == 400


def test_another_churchs_invitations_are_not_found(alice, bob, mailoutbox):
    item = invite(bob.client, "b@x.example").json()
    assert (
        alice.client.delete(f"/api/users/invitations/{item['id']}").status_code == 404
    )
    resend = alice.client.post(f"/api/users/invitations/{item['id']}/resend")
    assert resend.status_code == 404
    assert alice.client.get("/api/users/invitations").json()["count"] == 0


def test_login_works_after_accepting(alice, anon, mailoutbox):
    invite(alice.client, "fresh@x.example")
    token = link_token(last_email(mailoutbox, "fresh@x.example"), "accept-invitation")
    anon.post(ACCEPT, {"token": token, "password": PASSWORD}, format="json")
    anon.credentials()
    assert "access" in login(anon, email="fresh@x.example").json()
