"""Templates: CRUD, placeholder validation, segments, preview."""

import pytest


def create(client, **fields):
    body = {
        "name": "Welcome",
        "body": "Hi {first_name}, welcome to {church_name}!",
        **fields,
    }
    return client.post("/api/templates", body, format="json")


def test_crud_with_computed_fields(alice):
    created = create(alice.client, category="greetings")
    assert created.status_code == 201
    body = created.json()
    assert body["variables"] == ["first_name", "church_name"]
    assert (body["encoding"], body["segments"]) == ("GSM-7", 1)
    path = f"/api/templates/{body['id']}"
    updated = alice.client.patch(path, {"body": "¿Cómo estás? 😜 " * 10}, format="json")
    assert updated.status_code == 200
    assert updated.json()["encoding"] == "UCS-2"
    assert updated.json()["segments"] == 3
    assert (
        alice.client.put(path, {"name": "W2", "body": "x"}, format="json").json()[
            "name"
        ]
        == "W2"
    )
    assert alice.client.delete(path).status_code == 204
    assert alice.client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"body": "Hi {nickname}"}, "body"),
        ({"body": "Hi {first_name.__class__}"}, "body"),
        ({"body": "x" * 1601}, "body"),
        ({"body": ""}, "body"),
        ({"name": ""}, "name"),
        ({"name": ["a"]}, "name"),
        ({"body": {"a": 1}}, "body"),
    ],
)
def test_bad_templates_are_refused(alice, fields, bad):
    response = create(alice.client, **fields)
    assert response.status_code == 400
    assert bad in response.json()["fields"]


def test_names_are_unique_within_a_tenant_only(alice, bob):
    assert create(alice.client).status_code == 201
    assert create(alice.client).status_code == 400
    assert create(bob.client).status_code == 201


def test_preview_renders_for_a_member_of_this_tenant(alice, bob):
    branch = alice.client.post("/api/branches", {"name": "North"}, format="json").json()
    member = alice.client.post(
        "/api/members",
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "phone": "+14155550100",
            "branch": branch["id"],
        },
        format="json",
    ).json()
    template = create(
        alice.client, body="{full_name} of {branch_name} at {church_name} :-}"
    ).json()
    response = alice.client.post(
        f"/api/templates/{template['id']}/preview",
        {"member": member["id"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "body": "Ann Lee of North at Grace Chapel :-}",
        "encoding": "GSM-7",
        "segments": 1,
    }
    foreign = bob.client.post(
        "/api/members", {"first_name": "B", "phone": "+14155550199"}, format="json"
    ).json()
    refused = alice.client.post(
        f"/api/templates/{template['id']}/preview",
        {"member": foreign["id"]},
        format="json",
    )
    assert refused.status_code == 400
    assert "member" in refused.json()["fields"]
