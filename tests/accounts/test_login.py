"""Login, refresh, logout, passwords and their rate limits."""

import base64
import datetime as dt
import json
import uuid

import pytest
import time_machine

from accounts.models import Membership, User
from tenants.models import Tenant
from tests.accounts.conftest import PASSWORD, bearer, login
from tests.api.documented import assert_documented_error
from tests.conftest import make_tenant


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
    assert_documented_error(response)

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


@pytest.mark.parametrize("used_before", [False, True], ids=["new", "remembered"])
def test_an_expired_access_token_is_invalid(anon, pastor, used_before):
    # A token this process verified before is remembered: it still expires.
    if used_before:
        assert bearer(anon, pastor["access"]).get("/api/auth/me").status_code == 200
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)):
        response = bearer(anon, pastor["access"]).get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_remembered_token_with_another_signature_or_claims_is_invalid(anon, pastor):
    header, payload, signature = pastor["access"].split(".")
    assert bearer(anon, pastor["access"]).get("/api/auth/me").status_code == 200
    other = "A" if signature[0] != "A" else "B"
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(
        json.dumps(claims | {"role": "owner", "tenant_id": str(uuid.uuid4())}).encode()
    )
    for token in (
        f"{header}.{payload}.{other}{signature[1:]}",
        f"{header}.{forged.decode().rstrip('=')}.{signature}",
    ):
        response = bearer(anon, token).get("/api/auth/me")
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
