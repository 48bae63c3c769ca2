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


ODD = ["a\x00b", "\ud800", "x\udfffy"]
SKIPPED_OPERATIONS = {
    # They act on the caller's own account (see test_fuzz).
    ("post", "/api/auth/logout/"),
    ("post", "/api/auth/password/"),
    ("post", "/api/auth/mfa/setup/"),
    ("delete", "/api/tenant/"),
}


def _string_properties(schema: dict, components: dict) -> list[str]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return [
        name
        for name, spec in schema.get("properties", {}).items()
        if spec.get("type") == "string" and not spec.get("readOnly")
    ]


def test_every_string_parameter_refuses_nul_and_lone_surrogates_by_name(alice):
    """NUL and lone surrogates in any query parameter or JSON string: a 400
    naming it (or an earlier refusal such as 404), never a server error."""
    import json

    spec = alice.client.get("/api/schema?format=json").json()
    components = spec["components"]["schemas"]
    named = 0
    for path, operations in spec["paths"].items():
        if "{" in path:
            continue  # a made-up id is a 404 before any body is read
        for method, operation in operations.items():
            if (method, path) in SKIPPED_OPERATIONS or not isinstance(operation, dict):
                continue
            for param in operation.get("parameters", []):
                if param["in"] != "query" or param["schema"].get("type") != "string":
                    continue
                answer = alice.client.generic(
                    method.upper(), path, QUERY_STRING=f"{param['name']}=a%00b"
                )
                assert answer.status_code < 500, (method, path, param["name"])
                if answer.status_code == 400:
                    assert param["name"] in answer.json()["fields"], answer.json()
                    named += 1
            content = operation.get("requestBody", {}).get("content", {})
            body_schema = content.get("application/json", {}).get("schema")
            if body_schema is None:
                continue
            for name in _string_properties(body_schema, components):
                for odd in ODD:
                    answer = alice.client.generic(
                        method.upper(),
                        path,
                        json.dumps({name: odd}),  # lone surrogates as \\u escapes
                        content_type="application/json",
                    )
                    assert answer.status_code < 500, (method, path, name, odd)
                    if answer.status_code == 400:
                        assert name in answer.json()["fields"], answer.json()
                        named += 1
    assert named >= 30


def post_json_text(client, path: str, text: str):
    """POST JSON written by hand: escapes such as \\ud800 reach the parser as sent."""
    return client.generic("POST", path, text, content_type="application/json")


def test_a_lone_surrogate_in_a_member_is_a_400_and_nothing_is_written(church):
    answer = post_json_text(
        church.client,
        "/api/members",
        '{"first_name": "Ann\\ud800", "phone": "+14155550101"}',
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["fields"] == {
        "first_name": [
            "Contains a character that cannot be stored "
            "(a NUL byte or a lone surrogate)."
        ]
    }
    assert church.client.get("/api/members").json()["count"] == 0


def test_a_nul_in_a_nested_json_value_names_its_path(church):
    answer = post_json_text(
        church.client,
        "/api/messages/send",
        '{"body": "Hi", "recipients": {"tags": ["ok", "b\\u0000d"]}}',
    )
    assert answer.status_code == 400, answer.content
    assert list(answer.json()["fields"]) == ["recipients.tags.1"]


def test_a_database_data_error_is_a_400_not_a_500():
    from django.db import DataError

    from api.responses import as_error, error_body, error_status

    error = as_error(DataError("value too long for type character varying(16)"))
    assert error is not None
    assert error_status(error) == 400
    assert error_body(error)["code"] == "validation_error"
