"""Branches, the church's settings, and sending numbers held by one tenant only."""

import pytest

from api.errors import NotFound
from branches.models import Branch
from branches.services import save_branch
from church.models import SendingNumber
from members.models import Member
from tenants.context import tenant_context


def test_branch_crud_member_count_and_delete_keeps_members(alice):
    created = alice.client.post(
        "/api/branches", {"name": "North", "address": "1 Main"}, format="json"
    )
    assert created.status_code == 201
    branch = created.json()
    assert branch["timezone"] == alice.tenant.timezone
    assert branch["member_count"] == 0
    alice.client.post(
        "/api/members",
        {"first_name": "Ann", "phone": "+14155550100", "branch": branch["id"]},
        format="json",
    )
    path = f"/api/branches/{branch['id']}"
    assert alice.client.get(path).json()["member_count"] == 1
    assert (
        alice.client.patch(path, {"timezone": "America/Phoenix"}, format="json").json()[
            "timezone"
        ]
        == "America/Phoenix"
    )
    assert alice.client.delete(path).status_code == 204
    with tenant_context(alice.tenant):
        assert Member.objects.get().branch_id is None


def test_branch_validation(alice):
    alice.client.post("/api/branches", {"name": "North"}, format="json")
    for body, field in [
        ({"name": "North"}, "name"),
        ({"name": "South", "timezone": "Nowhere/Land"}, "timezone"),
        ({"name": "South", "phone_number": "12"}, "phone_number"),
        ({"name": ""}, "name"),
    ]:
        response = alice.client.post("/api/branches", body, format="json")
        assert response.status_code == 400
        assert field in response.json()["fields"]


def test_staff_may_read_but_not_change_branches(alice):
    from tests.conftest import make_persona

    staff = make_persona(alice.tenant, role="staff")
    assert staff.client.get("/api/branches").status_code == 200
    denied = staff.client.post("/api/branches", {"name": "X"}, format="json")
    assert denied.status_code == 403


def test_a_sending_number_belongs_to_one_tenant(alice, bob):
    made = alice.client.post(
        "/api/branches",
        {"name": "North", "phone_number": "(415) 555-0001"},
        format="json",
    ).json()
    assert made["phone_number"] == "+14155550001"
    taken = bob.client.post(
        "/api/branches", {"name": "B", "phone_number": "+14155550001"}, format="json"
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "conflict"
    church = bob.client.patch(
        "/api/tenant", {"phone_number": "+14155550001"}, format="json"
    )
    assert church.status_code == 409

    # moving A's branch to another number frees the old one
    alice.client.patch(
        f"/api/branches/{made['id']}", {"phone_number": "+14155550002"}, format="json"
    )
    assert (
        bob.client.patch(
            "/api/tenant", {"phone_number": "+14155550001"}, format="json"
        ).status_code
        == 200
    )
    assert set(SendingNumber.objects.values_list("number", "tenant_id")) == {
        ("+14155550002", alice.tenant.id),
        ("+14155550001", bob.tenant.id),
    }
    alice.client.delete(f"/api/branches/{made['id']}")
    assert not SendingNumber.objects.filter(number="+14155550002").exists()


def test_church_settings(alice):
    body = alice.client.get("/api/tenant/").json()
    assert body["quiet_hours"] == {"start": "08:00", "end": "20:00"}
    assert body["slug"] == alice.tenant.slug
    assert body["phone_number"] is None
    changed = alice.client.patch(
        "/api/tenant",
        {
            "name": "Grace Chapel East",
            "timezone": "Pacific/Honolulu",
            "quiet_hours": {"start": "09:00", "end": "18:30"},
            "help_text": "Call us",
        },
        format="json",
    ).json()
    assert changed["name"] == "Grace Chapel East"
    assert changed["quiet_hours"] == {"start": "09:00", "end": "18:30"}
    assert alice.client.get("/api/tenant").json()["timezone"] == "Pacific/Honolulu"
    assert (
        alice.client.patch("/api/tenant", {"quiet_hours": None}, format="json").json()[
            "quiet_hours"
        ]
        is None
    )
    for bad in (
        {"quiet_hours": {"start": "25:00", "end": "08:00"}},
        {"quiet_hours": {"start": "08:00", "end": "08:00"}},
        {"quiet_hours": "always"},
        {"country": "ZZ"},
        {"slug": "hijack"},
    ):
        response = alice.client.patch("/api/tenant", bad, format="json")
        if "slug" in bad:
            assert response.json()["slug"] == alice.tenant.slug  # read-only
        else:
            assert response.status_code == 400


def test_only_owners_and_admins_change_church_settings(alice):
    from tests.conftest import make_persona

    staff = make_persona(alice.tenant, role="staff")
    assert staff.client.get("/api/tenant").status_code == 200
    assert (
        staff.client.patch("/api/tenant", {"name": "X"}, format="json").status_code
        == 403
    )


def test_a_branch_deleted_while_it_was_being_changed_is_not_found(alice):
    made = alice.client.post("/api/branches", {"name": "North"}, format="json")
    with tenant_context(alice.tenant):
        read = Branch.objects.get(pk=made.json()["id"])
        Branch.objects.filter(pk=read.pk).delete()  # another request's delete
        with pytest.raises(NotFound):
            save_branch(branch=read, fields={"phone_number": "+14155550101"})
    assert not SendingNumber.objects.exists()
