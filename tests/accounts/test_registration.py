"""Registering a church: its database and its owner, or nothing."""

import pytest

from accounts.models import User
from tenants import provisioning
from tenants.models import Tenant
from tenants.servers import backend_for, tenant_database_pattern
from tests.accounts.conftest import bearer, register


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
        "email_verified": False,
        "role": "owner",
    }
    tenant = Tenant.objects.get(pk=body["tenant"]["id"])
    assert (tenant.timezone, tenant.country) == ("America/Chicago", "US")
    assert backend_for(tenant.server).database_exists(tenant.database_name)
    # usable at once
    client = bearer(anon, body["access"])
    assert client.get("/api/members").json()["count"] == 0
    assert client.get("/api/auth/me").json()["role"] == "owner"


def test_a_taken_email_registers_another_church_only_with_its_password(anon, registry):
    first = register(anon).json()
    response = register(
        anon,
        email="PASTOR@grace.example",
        organization_name="Other",
        password="another long passphrase",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert Tenant.objects.count() == 1

    second = register(anon, organization_name="Other", first_name="Someone Else")
    assert second.status_code == 201
    assert second.json()["user"]["id"] == first["user"]["id"]
    assert second.json()["user"]["first_name"] == "Pat"  # the account is unchanged
    assert Tenant.objects.count() == 2


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
