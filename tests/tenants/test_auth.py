"""Registration, login, refresh, logout, password, MFA, rate limits."""

import datetime as dt

import pyotp
import pytest
import time_machine

from tenants import provisioning
from tenants.models import Membership, Tenant, User
from tenants.servers import backend_for, tenant_database_pattern
from tests.conftest import make_persona, make_tenant

PASSWORD = "correct horse battery staple"


def register(client, **overrides):
    body = {
        "organization_name": "  Grace Church  ",
        "email": "Pastor@Grace.example",
        "password": PASSWORD,
        "first_name": "Pat",
        "last_name": "Pastor",
        "timezone": "America/Chicago",
        "country": "us",
        **overrides,
    }
    return client.post("/api/auth/register", body, format="json")


def login(client, email="pastor@grace.example", password=PASSWORD, **extra):
    return client.post(
        "/api/auth/login",
        {"email": email, "password": password, **extra},
        format="json",
    )


def bearer(client, access):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- registration ---


def test_register_creates_a_ready_tenant_and_its_owner(anon, registry):
    response = register(anon)

    assert response.status_code == 201
    body = response.json()
    assert body["tenant"]["name"] == "Grace Church"
    assert body["tenant"]["slug"] == "grace-church"
    assert body["tenant"]["status"] == "active"
    assert body["user"] == {
        "id": body["user"]["id"],
        "email": "pastor@grace.example",
        "first_name": "Pat",
        "last_name": "Pastor",
        "role": "owner",
    }
    tenant = Tenant.objects.get(pk=body["tenant"]["id"])
    assert (tenant.timezone, tenant.country) == ("America/Chicago", "US")
    assert backend_for(tenant.server).database_exists(tenant.database_name)
    # usable at once
    client = bearer(anon, body["access"])
    assert client.get("/api/members").json()["count"] == 0
    assert client.get("/api/auth/me").json()["role"] == "owner"


def test_register_refuses_a_taken_email(anon, registry):
    assert register(anon).status_code == 201
    response = register(anon, email="PASTOR@grace.example", organization_name="Other")
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert Tenant.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "short"),
        ("password", "12345678901"),
        ("password", "pastor@grace.example"),
        ("email", "not-an-email"),
        ("organization_name", "   "),
        ("timezone", "Mars/Olympus"),
        ("country", "XX"),
        ("organization_name", "x" * 201),
        ("email", ["a@b.c"]),
    ],
)
def test_register_validates_its_input(anon, registry, field, value):
    response = register(anon, **{field: value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"]
    assert not Tenant.objects.exists()
    assert not User.objects.exists()


def test_register_failure_leaves_nothing_and_can_be_retried(
    anon, registry, monkeypatch
):
    def broken(name, tenant):
        if name == "migrated":
            raise RuntimeError("server on fire")

    monkeypatch.setattr(provisioning, "step_hooks", [broken])
    response = register(anon)

    assert response.status_code == 503
    assert response.json()["code"] == "provisioning_failed"
    assert not User.objects.exists()
    assert not Tenant.objects.exclude(status=Tenant.Status.FAILED).exists()
    failed = Tenant.objects.get()
    pattern = tenant_database_pattern()
    assert not [
        n for n in backend_for(failed.server).list_databases() if pattern.match(n)
    ]

    monkeypatch.setattr(provisioning, "step_hooks", [])
    assert register(anon).status_code == 201


def test_a_registration_killed_before_the_owner_exists_is_cleaned_up(
    anon, registry, monkeypatch
):
    from datetime import timedelta

    class Killed(BaseException):
        pass

    def kill(name, tenant):
        if name == "migrated":
            raise Killed

    monkeypatch.setattr(provisioning, "step_hooks", [kill])
    with pytest.raises(Killed):
        register(anon)
    monkeypatch.setattr(provisioning, "step_hooks", [])

    provisioning.reconcile_tenants(older_than=timedelta(0))

    tenant = Tenant.objects.get()
    assert tenant.status == Tenant.Status.FAILED  # not finished without its owner
    assert not backend_for(tenant.server).database_exists(tenant.database_name)
    assert not User.objects.exists()


def test_malformed_json_is_a_parse_error(anon, registry):
    response = anon.post(
        "/api/auth/register", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# --- login ---


@pytest.fixture
def pastor(anon, registry):
    body = register(anon).json()
    anon.credentials()
    return body


def test_login_returns_tokens_for_the_only_tenant(anon, pastor):
    response = login(anon)
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"]["id"] == pastor["tenant"]["id"]
    assert body["user"]["role"] == "owner"
    assert bearer(anon, body["access"]).get("/api/auth/me").status_code == 200


def test_wrong_email_and_wrong_password_get_the_same_answer(anon, pastor):
    wrong_password = login(anon, password="nope nope nope")
    unknown_email = login(anon, email="nobody@example.org")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert (
        wrong_password.json()
        == unknown_email.json()
        == {"code": "invalid_credentials", "message": "Wrong email or password."}
    )


def test_a_user_of_several_tenants_must_name_one(anon, pastor):
    user = User.objects.get(email="pastor@grace.example")
    other = make_tenant("Second Church")
    Membership.objects.create(user=user, tenant=other, role="staff")

    assert login(anon, password="wrong password!").status_code == 401  # no list yet
    response = login(anon)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "tenant_required"
    assert {t["slug"] for t in body["tenants"]} == {"grace-church", other.slug}

    chosen = login(anon, tenant=other.slug).json()
    assert chosen["tenant"]["id"] == str(other.id)
    assert chosen["user"]["role"] == "staff"


def test_login_to_a_suspended_tenant_is_refused(anon, pastor):
    Tenant.objects.update(status=Tenant.Status.SUSPENDED)
    response = login(anon)
    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"


def test_repeated_failures_are_rate_limited(anon, pastor, settings):
    settings.RATE_LIMITS = "login=3/15m"
    for _ in range(3):
        assert login(anon, password="wrong password!").status_code == 401
    response = login(anon)  # even the right password now waits
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_requests"
    assert int(response["Retry-After"]) > 0


# --- refresh and logout ---


def test_refresh_rotates_and_a_used_refresh_token_is_refused(anon, pastor):
    first = anon.post(
        "/api/auth/refresh", {"refresh": pastor["refresh"]}, format="json"
    )
    assert first.status_code == 200
    again = anon.post(
        "/api/auth/refresh", {"refresh": pastor["refresh"]}, format="json"
    )
    assert again.status_code == 401
    assert again.json()["code"] == "token_revoked"
    # reuse of a spent refresh token ends the whole session
    newest = first.json()
    follow = anon.post(
        "/api/auth/refresh", {"refresh": newest["refresh"]}, format="json"
    )
    assert follow.json()["code"] == "token_revoked"
    assert bearer(anon, newest["access"]).get("/api/auth/me").status_code == 401


def test_refresh_tokens_are_not_access_tokens_and_vice_versa(anon, pastor):
    as_access = bearer(anon, pastor["refresh"]).get("/api/auth/me")
    assert as_access.status_code == 401
    assert as_access.json()["code"] == "invalid_token"
    anon.credentials()
    as_refresh = anon.post(
        "/api/auth/refresh", {"refresh": pastor["access"]}, format="json"
    )
    assert as_refresh.json()["code"] == "invalid_token"


def test_logout_revokes_the_access_and_the_refresh_token(anon, pastor):
    client = bearer(anon, pastor["access"])
    response = client.post(
        "/api/auth/logout", {"refresh": pastor["refresh"]}, format="json"
    )
    assert response.status_code == 204
    after = client.get("/api/auth/me")
    assert after.status_code == 401
    assert after.json()["code"] == "token_revoked"
    anon.credentials()
    refreshed = anon.post(
        "/api/auth/refresh", {"refresh": pastor["refresh"]}, format="json"
    )
    assert refreshed.json()["code"] == "token_revoked"


def test_an_expired_access_token_is_invalid(anon, pastor):
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)):
        response = bearer(anon, pastor["access"]).get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_stale_token_does_not_block_login_or_refresh(anon, pastor):
    bearer(anon, "garbage")
    assert login(anon).status_code == 200
    refreshed = anon.post(
        "/api/auth/refresh", {"refresh": pastor["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200


# --- password ---


def test_password_change_revokes_the_other_sessions(anon, pastor):
    other_session = login(anon).json()
    client = bearer(anon, pastor["access"])

    wrong = client.post(
        "/api/auth/password",
        {"old_password": "nope", "new_password": "a new long passphrase"},
        format="json",
    )
    assert wrong.status_code == 400
    assert "old_password" in wrong.json()["fields"]
    weak = client.post(
        "/api/auth/password",
        {"old_password": PASSWORD, "new_password": "123"},
        format="json",
    )
    assert "new_password" in weak.json()["fields"]

    done = client.post(
        "/api/auth/password",
        {"old_password": PASSWORD, "new_password": "a new long passphrase"},
        format="json",
    )
    assert done.status_code == 204
    assert client.get("/api/auth/me").status_code == 200  # this session lives on
    other = bearer(anon, other_session["access"]).get("/api/auth/me")
    assert other.json()["code"] == "token_revoked"
    anon.credentials()
    assert login(anon).status_code == 401
    assert login(anon, password="a new long passphrase").status_code == 200


# --- MFA ---


def test_mfa_setup_enable_and_two_step_login(anon, pastor):
    client = bearer(anon, pastor["access"])
    setup = client.post("/api/auth/mfa/setup").json()
    totp = pyotp.TOTP(setup["secret"])
    assert setup["otpauth_url"].startswith("otpauth://totp/")
    assert (
        client.post(
            "/api/auth/mfa/enable", {"code": "000000"}, format="json"
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/auth/mfa/enable", {"code": totp.now()}, format="json"
        ).status_code
        == 200
    )

    anon.credentials()
    challenge = login(anon).json()
    assert challenge["mfa_required"] is True
    assert "access" not in challenge

    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    with time_machine.travel(later, tick=False):
        code = totp.now()
        bad = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": "123456"},
            format="json",
        )
        assert bad.status_code == 401
        ok = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": code},
            format="json",
        )
        assert ok.status_code == 200
        assert ok.json()["user"]["email"] == "pastor@grace.example"
        # the token is single-use, and so is the code
        again = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": code},
            format="json",
        )
        assert again.status_code == 401
        second = login(anon).json()
        replay = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": second["mfa_token"], "code": code},
            format="json",
        )
        assert replay.status_code == 401


def test_mfa_accepts_one_step_of_clock_drift_and_no_more(anon, pastor):
    client = bearer(anon, pastor["access"])
    totp = pyotp.TOTP(client.post("/api/auth/mfa/setup").json()["secret"])
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        previous = totp.at(now - dt.timedelta(seconds=30))
        too_old = totp.at(now - dt.timedelta(seconds=90))
        assert (
            client.post(
                "/api/auth/mfa/enable", {"code": too_old}, format="json"
            ).status_code
            == 400
        )
        assert (
            client.post(
                "/api/auth/mfa/enable", {"code": previous}, format="json"
            ).status_code
            == 200
        )


def test_an_expired_mfa_token_is_refused(anon, pastor):
    client = bearer(anon, pastor["access"])
    totp = pyotp.TOTP(client.post("/api/auth/mfa/setup").json()["secret"])
    client.post("/api/auth/mfa/enable", {"code": totp.now()}, format="json")
    anon.credentials()
    challenge = login(anon).json()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)):
        response = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": totp.now()},
            format="json",
        )
    assert response.json()["code"] == "invalid_token"


def test_mfa_disable_needs_a_valid_code(anon, pastor):
    client = bearer(anon, pastor["access"])
    totp = pyotp.TOTP(client.post("/api/auth/mfa/setup").json()["secret"])
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        client.post("/api/auth/mfa/enable", {"code": totp.now()}, format="json")
    with time_machine.travel(now + dt.timedelta(seconds=60), tick=False):
        assert (
            client.post(
                "/api/auth/mfa/disable", {"code": "999999"}, format="json"
            ).status_code
            == 400
        )
        assert (
            client.post(
                "/api/auth/mfa/disable", {"code": totp.now()}, format="json"
            ).status_code
            == 200
        )
    anon.credentials()
    assert "access" in login(anon).json()


# --- staff ---


def test_staff_management_by_role(alice):
    owner = alice.client
    admin = make_persona(alice.tenant, role="admin")
    staff_member = make_persona(alice.tenant, role="staff")

    assert staff_member.client.get("/api/users").status_code == 403
    assert staff_member.client.get("/api/users").json()["code"] == "permission_denied"
    listed = admin.client.get("/api/users").json()
    assert listed["count"] == 3

    created = owner.post(
        "/api/users",
        {"email": "new@x.example", "role": "staff", "password": PASSWORD},
        format="json",
    )
    assert created.status_code == 201
    new_id = created.json()["id"]
    again = owner.post(
        "/api/users",
        {"email": "new@x.example", "role": "staff", "password": PASSWORD},
        format="json",
    )
    assert again.status_code == 409
    # admins cannot make owners
    promote = admin.client.patch(
        f"/api/users/{new_id}", {"role": "owner"}, format="json"
    )
    assert promote.status_code == 403
    assert (
        owner.patch(f"/api/users/{new_id}", {"role": "admin"}, format="json").json()[
            "role"
        ]
        == "admin"
    )


def test_the_last_owner_cannot_be_removed_or_demoted(alice):
    me = str(alice.user.id)
    demote = alice.client.patch(f"/api/users/{me}", {"role": "admin"}, format="json")
    assert demote.status_code == 409
    assert demote.json()["code"] == "conflict"
    assert alice.client.delete(f"/api/users/{me}").status_code == 409

    second = make_persona(alice.tenant, role="owner")
    assert (
        alice.client.patch(
            f"/api/users/{second.user.id}", {"role": "staff"}, format="json"
        ).status_code
        == 200
    )
    assert alice.client.delete(f"/api/users/{me}").status_code == 409


def test_removing_a_user_revokes_their_tokens(alice):
    victim = make_persona(alice.tenant, role="staff")
    assert victim.client.get("/api/members").status_code == 200
    assert alice.client.delete(f"/api/users/{victim.user.id}").status_code == 204
    response = victim.client.get("/api/members")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert alice.client.get(f"/api/users/{victim.user.id}").status_code == 404


def test_a_user_may_belong_to_several_tenants(alice, bob):
    response = alice.client.post(
        "/api/users",
        {"email": bob.user.email, "role": "admin", "password": "ignored for existing"},
        format="json",
    )
    assert response.status_code == 201
    # a shared account is not renamed by one church
    rename = alice.client.patch(
        f"/api/users/{bob.user.id}", {"first_name": "Pwned"}, format="json"
    )
    assert rename.status_code == 409
    assert Membership.objects.filter(user=bob.user).count() == 2
    # bob's token for B is untouched; other tenants' users are invisible
    assert bob.client.get("/api/members").status_code == 200
    assert alice.client.get(f"/api/users/{bob.user.id}").status_code == 200
    carol = make_persona(bob.tenant, role="staff")
    assert alice.client.get(f"/api/users/{carol.user.id}").status_code == 404
    assert alice.client.get("/api/users/not-a-uuid").status_code == 404


def test_registering_with_another_tenants_token_attached_works(alice, anon):
    client = bearer(anon, alice.access)
    response = register(client, email="second@church.example")
    assert response.status_code == 201
    assert response.json()["tenant"]["id"] != str(alice.tenant.id)


def test_registration_is_rate_limited_per_address(anon, registry, settings):
    settings.RATE_LIMITS = "register=2/h"
    assert register(anon, email="one@x.example").status_code == 201
    assert register(anon, email="two@x.example").status_code == 201
    third = register(anon, email="three@x.example")
    assert third.status_code == 429
    assert third["Retry-After"]
