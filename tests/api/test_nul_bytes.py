"""A NUL byte anywhere in a query or a field is refused as bad input, never a 500."""

import pytest

from tests.messaging.fixtures import add_member


@pytest.mark.parametrize(
    "path",
    [
        "/api/members?search=a%00b",
        "/api/members?tag=a%00b",
        "/api/members?status=a%00b",
        "/api/messages/history?status=sent%00",
        "/api/messages/history?direction=in%00bound",
    ],
)
def test_a_nul_byte_in_a_query_is_a_400(church, path):
    add_member(church.client, "+14155550101")
    answer = church.client.get(path)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "validation_error"


def test_a_csv_row_with_a_nul_byte_is_reported_and_the_others_imported(church):
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = (
        "first_name,last_name,phone,email,branch,tags\n"
        "Ann,Good,+14155550111,,,\n"
        "Bad\x00,Row,+14155550112,,,\n"
        "Ben,Good,+14155550113,,,\n"
    )
    upload = SimpleUploadedFile("members.csv", text.encode(), content_type="text/csv")
    answer = church.client.post("/api/members/import", {"file": upload})
    assert answer.status_code == 200, answer.content
    report = answer.json()
    assert report["created"] == 2
    assert report["errors"] == [{"row": 3, "message": "Contains a NUL byte."}]
    names = [
        m["first_name"] for m in church.client.get("/api/members").json()["results"]
    ]
    assert sorted(names) == ["Ann", "Ben"]
