"""Branches, templates, settings, import and export: never across tenants."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from branches.models import Branch
from members.models import Member
from templates_app.models import MessageTemplate
from tenants.context import tenant_context


@pytest.fixture
def b_data(bob):
    branch = bob.client.post(
        "/api/branches", {"name": "B Campus"}, format="json"
    ).json()
    template = bob.client.post(
        "/api/templates", {"name": "B T", "body": "B secret"}, format="json"
    ).json()
    member = bob.client.post(
        "/api/members",
        {"first_name": "Secret", "phone": "+14155550123", "branch": branch["id"]},
        format="json",
    ).json()
    return {"branch": branch, "template": template, "member": member}


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("kind", ["branches", "templates"])
def test_another_tenants_objects_are_not_found(alice, bob, b_data, method, kind):
    target = b_data["branch" if kind == "branches" else "template"]
    response = getattr(alice.client, method)(
        f"/api/{kind}/{target['id']}", {"name": "Pwned", "body": "x"}, format="json"
    )
    assert response.status_code == 404
    with tenant_context(bob.tenant):
        assert Branch.objects.get().name == "B Campus"
        assert MessageTemplate.objects.get().name == "B T"


def test_another_tenants_template_cannot_be_previewed(alice, b_data):
    own = alice.client.post(
        "/api/members", {"first_name": "A", "phone": "+14155550100"}, format="json"
    ).json()
    response = alice.client.post(
        f"/api/templates/{b_data['template']['id']}/preview",
        {"member": own["id"]},
        format="json",
    )
    assert response.status_code == 404


def test_another_tenants_branch_is_no_branch_for_a_member(alice, b_data):
    for method, path in (("post", "/api/members"),):
        response = getattr(alice.client, method)(
            path,
            {
                "first_name": "A",
                "phone": "+14155550100",
                "branch": b_data["branch"]["id"],
            },
            format="json",
        )
        assert response.status_code == 400
        assert "branch" in response.json()["fields"]
    with tenant_context(alice.tenant):
        assert not Member.objects.exists()


def test_filtering_by_another_tenants_branch_finds_nothing(alice, b_data):
    response = alice.client.get(f"/api/members?branch={b_data['branch']['id']}")
    assert response.json()["count"] == 0


def test_lists_and_export_hold_only_own_rows(alice, b_data):
    for path in ("/api/branches", "/api/templates", "/api/members"):
        response = alice.client.get(path)
        assert response.json()["count"] == 0, path
    exported = b"".join(alice.client.get("/api/members/export").streaming_content)
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert rows == []


def test_import_matches_phones_within_the_tenant_only(alice, bob, b_data):
    text = "first_name,last_name,phone,email,branch,tags\nMine,,+14155550123,,,\n"
    upload = SimpleUploadedFile("m.csv", text.encode(), content_type="text/csv")
    report = alice.client.post(
        "/api/members/import", {"file": upload}, format="multipart"
    ).json()
    assert report["created"] == 1  # B's member with the same phone is not "matched"
    with tenant_context(bob.tenant):
        assert Member.objects.get().first_name == "Secret"
    named_b_branch = (
        "first_name,last_name,phone,email,branch,tags\nX,,+14155550124,,B Campus,\n"
    )
    upload = SimpleUploadedFile("m.csv", named_b_branch.encode())
    report = alice.client.post(
        "/api/members/import", {"file": upload}, format="multipart"
    ).json()
    assert report["errors"][0]["message"] == "Unknown branch 'B Campus'."


def test_the_church_endpoint_shows_the_tokens_tenant(alice, bob):
    body = alice.client.get("/api/tenant").json()
    assert body["id"] == str(alice.tenant.id)
    patched = alice.client.patch(
        f"/api/tenant?tenant={bob.tenant.id}", {"name": "X"}, format="json"
    )
    assert patched.status_code == 403
    assert bob.client.get("/api/tenant").json()["name"] == bob.tenant.name
