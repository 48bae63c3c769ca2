"""The tenant of a request comes from the verified token only."""

import pytest

from tenants.models import Tenant
from tenants.services import suspend_tenant

MEMBER = {"first_name": "Ann", "phone": "(415) 555-0100"}


def test_a_token_routes_to_its_own_tenant(alice, bob):
    assert alice.client.post("/api/members", MEMBER, format="json").status_code == 201
    assert bob.client.get("/api/members").json()["count"] == 0
    body = alice.client.get("/api/members/").json()
    assert body["count"] == 1
    assert body["results"][0]["phone"] == "+14155550100"


def test_no_token_is_not_authenticated(anon, registry):
    response = anon.get("/api/members")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Bearer a.b.c"])
def test_a_bad_token_is_invalid(anon, registry, header):
    response = anon.get("/api/members", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_naming_another_tenant_is_refused(alice, bob):
    other = str(bob.tenant.id)
    for response in (
        alice.client.get("/api/members", HTTP_X_TENANT_ID=other),
        alice.client.get(f"/api/members?tenant={other}"),
        alice.client.post("/api/members", {**MEMBER, "tenant": other}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "tenant_mismatch"
    assert alice.client.get("/api/members").json()["count"] == 0


def test_naming_the_same_tenant_is_harmless(alice):
    own = str(alice.tenant.id)
    assert alice.client.get("/api/members", HTTP_X_TENANT_ID=own).status_code == 200
    assert (
        alice.client.get(f"/api/members?tenant={alice.tenant.slug}").status_code == 200
    )


def test_a_suspended_tenant_is_refused(alice):
    suspend_tenant(tenant=Tenant.objects.get(pk=alice.tenant.pk))
    response = alice.client.get("/api/members")
    assert response.status_code == 403
    assert response.json()["code"] == "tenant_suspended"


def test_paths_work_with_and_without_the_trailing_slash(alice):
    created = alice.client.post("/api/members/", MEMBER, format="json")
    assert created.status_code == 201
    member_id = created.json()["id"]
    for path in (f"/api/members/{member_id}", f"/api/members/{member_id}/"):
        assert (
            alice.client.patch(path, {"notes": "x"}, format="json").status_code == 200
        )
    assert alice.client.delete(f"/api/members/{member_id}").status_code == 204
    assert alice.client.get(f"/api/members/{member_id}/").status_code == 404


def test_an_unreachable_registry_is_503_not_500(alice, monkeypatch):
    from django.db import OperationalError

    def down(tenant_id):
        raise OperationalError("registry down")

    monkeypatch.setattr("accounts.tokens.get_tenant", down)
    response = alice.client.get("/api/members")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
