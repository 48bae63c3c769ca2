"""Attacks on the token: each across two tenants with real tokens; none may pass."""

import base64
import datetime as dt
import json

import jwt
import pytest
import time_machine
from django.conf import settings

from tests.conftest import make_persona

MEMBER = {"first_name": "Secret", "phone": "+14155550123"}


def b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def call(client, token: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/members")


@pytest.fixture
def b_has_data(bob):
    assert bob.client.post("/api/members", MEMBER, format="json").status_code == 201
    return bob


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert b"Secret" not in response.content


def test_payload_altered_to_another_tenant_keeps_a_wrong_signature(
    anon, alice, b_has_data
):
    header, payload, signature = parts(alice.access)
    payload["tenant_id"] = str(b_has_data.tenant.id)
    forged = f"{b64(header)}.{b64(payload)}.{signature}"
    assert_refused(call(anon, forged), 401, "invalid_token")


def test_alg_none_is_refused(anon, alice, b_has_data):
    _, payload, _ = parts(alice.access)
    payload["tenant_id"] = str(b_has_data.tenant.id)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload)}."
    assert_refused(call(anon, unsigned), 401, "invalid_token")


@pytest.mark.parametrize("key", ["secret", "django-insecure", "", "changeme"])
def test_a_token_signed_with_a_guessed_key_is_refused(anon, alice, b_has_data, key):
    _, payload, _ = parts(alice.access)
    payload["tenant_id"] = str(b_has_data.tenant.id)
    guessed = jwt.encode(payload, key or "x", algorithm="HS256")
    assert_refused(call(anon, guessed), 401, "invalid_token")


def test_a_token_for_another_algorithm_is_refused(anon, alice, b_has_data):
    _, payload, _ = parts(alice.access)
    payload["tenant_id"] = str(b_has_data.tenant.id)
    other = jwt.encode(payload, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS512")
    assert_refused(call(anon, other), 401, "invalid_token")


def test_an_expired_token_is_refused(anon, alice):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    with time_machine.travel(later):
        assert_refused(call(anon, alice.access), 401, "invalid_token")


def test_a_refresh_token_is_not_an_access_token(anon, alice):
    assert_refused(call(anon, alice.tokens["refresh"]), 401, "invalid_token")


def test_a_revoked_token_is_refused(anon, alice):
    alice.client.post(
        "/api/auth/logout", {"refresh": alice.tokens["refresh"]}, format="json"
    )
    assert_refused(call(anon, alice.access), 401, "token_revoked")


def test_a_removed_user_holding_a_token_is_refused(alice, b_has_data):
    mallory = make_persona(alice.tenant, role="staff")
    alice.client.delete(f"/api/users/{mallory.user.id}")
    assert_refused(mallory.client.get("/api/members"), 401, "token_revoked")


def test_a_suspended_tenants_token_is_refused(alice):
    from tenants.models import Tenant
    from tenants.services import suspend_tenant

    suspend_tenant(tenant=Tenant.objects.get(pk=alice.tenant.pk))
    assert_refused(alice.client.get("/api/members"), 403, "tenant_suspended")


@pytest.mark.parametrize(
    "how",
    ["header", "header-slug", "query", "query-hex", "body"],
)
def test_naming_another_tenant_in_the_request_is_refused(alice, b_has_data, how):
    other = b_has_data.tenant
    client = alice.client
    if how == "header":
        response = client.get("/api/members", HTTP_X_TENANT_ID=str(other.id))
    elif how == "header-slug":
        response = client.get("/api/members", HTTP_X_TENANT_ID=other.slug)
    elif how == "query":
        response = client.get(f"/api/members?tenant={other.id}")
    elif how == "query-hex":
        response = client.get(f"/api/members?tenant={other.id.hex}")
    else:
        response = client.post(
            "/api/members", {**MEMBER, "tenant": str(other.id)}, format="json"
        )
    assert_refused(response, 403, "tenant_mismatch")


def test_a_token_without_a_tenant_claim_is_refused(anon, alice):
    _, payload, _ = parts(alice.access)
    del payload["tenant_id"]
    token = jwt.encode(payload, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    assert_refused(call(anon, token), 401, "invalid_token")
