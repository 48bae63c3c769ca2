"""Members: CRUD, phones, search and filters, import and export."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from members.models import Member
from tenants.context import tenant_context

HEADER = "first_name,last_name,phone,email,branch,tags\n"


def create(client, **fields):
    body = {"first_name": "Ann", "phone": "(415) 555-0100", **fields}
    return client.post("/api/members", body, format="json")


def test_create_read_update_delete(alice):
    created = create(
        alice.client,
        last_name="Lee",
        email="ann@example.org",
        tags=["choir", "youth", "choir"],
    )
    assert created.status_code == 201
    body = created.json()
    assert body["phone"] == "+14155550100"
    assert body["tags"] == ["choir", "youth"]
    assert body["status"] == "active"
    assert body["opted_out"] is False
    path = f"/api/members/{body['id']}"

    assert alice.client.get(path).json()["last_name"] == "Lee"
    put = alice.client.put(
        path,
        {"first_name": "Annie", "phone": "+1 415 555 0100", "tags": []},
        format="json",
    )
    assert put.status_code == 200
    assert put.json()["tags"] == []
    assert put.json()["first_name"] == "Annie"
    patched = alice.client.patch(
        path, {"opted_out": True, "status": "inactive"}, format="json"
    )
    assert patched.json()["opted_out"] is False  # read-only
    assert patched.json()["status"] == "inactive"
    assert alice.client.delete(path).status_code == 204
    assert alice.client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"phone": "555-2671"}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"first_name": ""}, "first_name"),
        ({"email": "nope"}, "email"),
        ({"status": "zombie"}, "status"),
        ({"tags": "choir"}, "tags"),
        ({"tags": [{"a": 1}]}, "tags"),
        ({"branch": "00000000-0000-0000-0000-000000000000"}, "branch"),
        ({"branch": "not-a-uuid"}, "branch"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"first_name": None}, "first_name"),
        ({"notes": "x" * 5001}, "notes"),
    ],
)
def test_bad_input_is_a_validation_error(alice, fields, bad):
    response = create(alice.client, **fields)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert any(key.split(".")[0] == bad for key in body["fields"]), body


def test_a_duplicate_phone_in_any_format_is_refused(alice):
    assert create(alice.client).status_code == 201
    response = create(alice.client, phone="415.555.0100")
    assert response.status_code == 400
    assert "phone" in response.json()["fields"]


def test_phones_are_parsed_in_the_churchs_country(registry):
    from tests.conftest import make_persona, make_tenant

    london = make_persona(make_tenant("St Paul", country="GB"))
    response = create(london.client, phone="020 8366 1177")
    assert response.json()["phone"] == "+442083661177"


def test_search_filters_and_ordering(alice):
    branch = alice.client.post("/api/branches", {"name": "North"}, format="json").json()
    create(
        alice.client,
        first_name="Ann",
        last_name="Zed",
        phone="+14155550100",
        email="ann@example.org",
        tags=["choir"],
        branch=branch["id"],
    )
    create(
        alice.client,
        first_name="Bob",
        last_name="Young",
        phone="+14155550101",
        status="inactive",
    )
    create(
        alice.client,
        first_name="Cy",
        last_name="Xu",
        phone="+14155550102",
        tags=["youth"],
    )

    def names(query):
        results = alice.client.get(f"/api/members{query}").json()["results"]
        return [m["first_name"] for m in results]

    assert names("") == ["Cy", "Bob", "Ann"]  # by last name
    assert names("?search=ann") == ["Ann"]
    assert names("?search=(415) 555-0101") == ["Bob"]
    assert names("?search=EXAMPLE.ORG") == ["Ann"]
    assert names("?tag=youth") == ["Cy"]
    assert names(f"?branch={branch['id']}") == ["Ann"]
    assert names("?status=inactive") == ["Bob"]
    assert names("?opted_out=false&ordering=first_name") == ["Ann", "Bob", "Cy"]
    assert names("?ordering=-created_at") == ["Cy", "Bob", "Ann"]
    assert names("?unknown=1&ordering=nonsense") == ["Cy", "Bob", "Ann"]
    assert names("?branch=garbage") == []


def test_pagination_bounds(alice):
    with tenant_context(alice.tenant):
        Member.objects.bulk_create(
            [Member(first_name=f"M{i:03}", phone=f"+1415555{i:04}") for i in range(130)]
        )
    first = alice.client.get("/api/members?page_size=1000").json()
    assert first["count"] == 130
    assert len(first["results"]) == 100
    assert first["next"]
    assert first["previous"] is None
    assert len(alice.client.get("/api/members").json()["results"]) == 20
    past = alice.client.get("/api/members?page=99")
    assert past.status_code == 404
    assert past.json()["code"] == "not_found"
    assert alice.client.get("/api/members?page_size=-5").status_code == 200


def upload(client, text: str, name="members.csv"):
    data = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post("/api/members/import", {"file": data}, format="multipart")


def test_import_creates_updates_skips_and_reports_bad_rows(alice):
    alice.client.post("/api/branches", {"name": "North"}, format="json")
    text = HEADER + (
        "Ann,Lee,(415) 555-0100,ann@example.org,North,choir;youth\n"
        "Bob,,415.555.0101,,,\n"
        ",NoName,4155550102,,,\n"
        "Cy,,12,,,\n"
        "Di,,4155550103,bad-email,,\n"
        "Ed,,4155550104,,Atlantis,\n"
    )
    report = upload(alice.client, text).json()
    assert report["created"] == 2
    assert report["updated"] == 0
    assert [e["row"] for e in report["errors"]] == [4, 5, 6, 7]

    again = upload(alice.client, text).json()
    assert (again["created"], again["updated"], again["skipped"]) == (0, 0, 2)

    changed = HEADER + "Ann,Lee-Smith,+14155550100,ann@example.org,North,choir\n"
    third = upload(alice.client, changed).json()
    assert (third["created"], third["updated"]) == (0, 1)
    ann = alice.client.get("/api/members?search=Lee-Smith").json()["results"][0]
    assert ann["tags"] == ["choir"]


def test_import_refuses_a_wrong_header_or_no_file(alice):
    wrong = upload(alice.client, "name,phone\nAnn,4155550100\n")
    assert wrong.status_code == 400
    assert "file" in wrong.json()["fields"]
    missing = alice.client.post("/api/members/import", {}, format="multipart")
    assert missing.status_code == 400
    binary = alice.client.post(
        "/api/members/import",
        {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00garbage")},
        format="multipart",
    )
    assert binary.status_code == 400


def test_export_streams_csv_that_imports_back_unchanged(alice):
    alice.client.post("/api/branches", {"name": "North"}, format="json")
    text = HEADER + (
        'Ann,"Lee, Jr.",+14155550100,ann@example.org,North,choir;youth\n'
        "Bob,,+14155550101,,,\n"
    )
    upload(alice.client, text)
    response = alice.client.get("/api/members/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    exported = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["last_name"] for r in rows] == ["", "Lee, Jr."]
    assert rows[1]["tags"] == "choir;youth"
    report = upload(alice.client, exported).json()
    assert (report["created"], report["updated"], report["skipped"]) == (0, 0, 2)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+1 (415) 555-0101", "+14155550101"),
        ("415.555.0101", "+14155550101"),
        ("(415) 555 0101", "+14155550101"),
        ("  415-555-0101  ", "+14155550101"),
        ("011 44 20 7946 0958", "+442079460958"),
        ("0044 (0)20 7946 0958".replace("(0)", ""), "+442079460958"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_a_phone_is_taken_as_people_type_it_and_stored_e164(alice, typed, stored):
    created = create(alice.client, phone=typed)
    assert created.status_code == 201, created.content
    assert created.json()["phone"] == stored


def test_a_phone_too_long_or_not_a_number_names_the_field(alice):
    long = create(alice.client, phone="+1 " + "4" * 40)
    assert long.status_code == 400
    assert long.json()["fields"]["phone"] == [
        "Enter a phone number of at most 40 characters."
    ]
    wrong = create(alice.client, phone="415 555 01")
    assert wrong.status_code == 400
    assert wrong.json()["fields"]["phone"] == ["Enter a valid phone number."]
    assert alice.client.get("/api/members").json()["count"] == 0


def test_a_typed_phone_clashes_with_the_same_number_stored(alice):
    assert create(alice.client, phone="+14155550101").status_code == 201
    again = create(alice.client, phone="1-415-555-0101")
    assert again.status_code == 400
    assert again.json()["fields"]["phone"] == [
        "A member with this phone already exists."
    ]


def test_branch_and_church_numbers_are_taken_as_typed(alice):
    growth = {"plan": "growth"}
    plan = alice.client.post("/api/billing/subscribe", growth, format="json")
    assert plan.status_code == 200  # the trial includes one number, this takes two
    branch = alice.client.post(
        "/api/branches",
        {"name": "North", "phone_number": "(415) 555-0177"},
        format="json",
    )
    assert branch.status_code == 201, branch.content
    assert branch.json()["phone_number"] == "+14155550177"
    church = alice.client.patch(
        "/api/tenant", {"phone_number": "415.555.0188"}, format="json"
    )
    assert church.status_code == 200, church.content
    assert church.json()["phone_number"] == "+14155550188"
    cleared = alice.client.patch(
        f"/api/branches/{branch.json()['id']}", {"phone_number": ""}, format="json"
    )
    assert cleared.json()["phone_number"] is None


def test_import_takes_known_columns_in_any_order_and_lists_the_others(alice):
    text = (
        "Phone,Notes,First_Name,last_name\n"
        "(415) 555-0101,likes hymns,Ann,Lee\n"
        "415.555.0102,,Ben,\n"
    )
    report = upload(alice.client, text)
    assert report.status_code == 200, report.content
    body = report.json()
    assert (body["created"], body["errors"]) == (2, [])
    assert body["ignored_columns"] == ["notes"]
    members = alice.client.get("/api/members?ordering=first_name").json()["results"]
    assert [(m["first_name"], m["last_name"], m["phone"]) for m in members] == [
        ("Ann", "Lee", "+14155550101"),
        ("Ben", "", "+14155550102"),
    ]


def test_import_names_the_missing_required_column_and_a_repeated_one(alice):
    missing = upload(alice.client, "first_name,last_name\nAnn,Lee\n")
    assert missing.status_code == 400
    assert "missing: phone" in missing.json()["fields"]["file"][0]
    twice = upload(alice.client, "first_name,phone,phone\nAnn,4155550101,4155550102\n")
    assert twice.status_code == 400
    assert "phone twice" in twice.json()["fields"]["file"][0]
    assert alice.client.get("/api/members").json()["count"] == 0
