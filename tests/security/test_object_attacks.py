"""Another tenant's ids answer 404 on every verb; lists never show its rows."""

import pytest

from members.models import Member
from tenants.context import tenant_context

MEMBER = {
    "first_name": "Secret",
    "last_name": "Bee",
    "phone": "+14155550123",
    "email": "secret@b.example",
}


@pytest.fixture
def b_member(bob):
    return bob.client.post("/api/members", MEMBER, format="json").json()


def b_unchanged(bob, b_member) -> None:
    with tenant_context(bob.tenant):
        member = Member.objects.get(pk=b_member["id"])
    assert (member.first_name, member.phone) == ("Secret", "+14155550123")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_tenants_member_is_not_found(alice, bob, b_member, method):
    for path in (f"/api/members/{b_member['id']}", f"/api/members/{b_member['id']}/"):
        response = getattr(alice.client, method)(
            path, {"first_name": "Pwned", "phone": "+14155550999"}, format="json"
        )
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    b_unchanged(bob, b_member)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_tenants_user_is_not_found(alice, bob, method):
    response = getattr(alice.client, method)(
        f"/api/users/{bob.user.id}", {"role": "staff"}, format="json"
    )
    assert response.status_code == 404
    assert bob.client.get("/api/auth/me").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?search=Secret",
        "?search=4155550123",
        "?search=secret@b",
        "?search=Bee",
        "?status=active",
        "?ordering=-created_at",
        "?page_size=100",
    ],
)
def test_lists_and_searches_never_show_another_tenants_rows(alice, b_member, query):
    alice.client.post(
        "/api/members", {"first_name": "Own", "phone": "+14155550100"}, format="json"
    )
    response = alice.client.get(f"/api/members{query}")
    assert response.status_code == 200
    assert b"Secret" not in response.content
    assert b_member["id"] not in response.content.decode()


def test_users_list_shows_only_this_tenants_staff(alice, bob):
    emails = {u["email"] for u in alice.client.get("/api/users").json()["results"]}
    assert emails == {alice.user.email}
