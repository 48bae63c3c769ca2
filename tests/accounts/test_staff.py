"""The church's staff: who may add, change and remove whom."""

from accounts.models import Membership
from tests.accounts.conftest import PASSWORD, bearer, register
from tests.conftest import make_persona


def test_staff_management_by_role(alice):
    owner = alice.client
    admin = make_persona(alice.tenant, role="admin")
    staff_member = make_persona(alice.tenant, role="staff")

    assert staff_member.client.get("/api/users").status_code == 403
    assert staff_member.client.get("/api/users").json()["code"] == "permission_denied"
    listed = admin.client.get("/api/users").json()
    assert listed["count"] == 3

    # Nobody adds an account with a password of their choosing: invitations only.
    created = owner.post(
        "/api/users",
        {"email": "new@x.example", "role": "staff", "password": PASSWORD},
        format="json",
    )
    assert created.status_code == 405
    assert "invitations" in created.json()["message"]
    # admins cannot make owners
    member_id = staff_member.user.id
    promote = admin.client.patch(
        f"/api/users/{member_id}", {"role": "owner"}, format="json"
    )
    assert promote.status_code == 403
    assert (
        owner.patch(f"/api/users/{member_id}", {"role": "admin"}, format="json").json()[
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


def test_a_church_changes_roles_only_never_a_persons_name(alice, bob):
    Membership.objects.create(user=bob.user, tenant=alice.tenant, role="staff")
    rename = alice.client.patch(
        f"/api/users/{bob.user.id}", {"first_name": "Pwned"}, format="json"
    )
    assert rename.status_code == 400
    bob.user.refresh_from_db()
    assert bob.user.first_name != "Pwned"
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
