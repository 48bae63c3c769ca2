"""The API's conventions hold on every endpoint: slashes, errors, limits."""

import pytest

from tests.api.documented import assert_documented_error

ENDPOINTS = [
    "/api/members",
    "/api/branches",
    "/api/templates",
    "/api/users",
    "/api/tenant",
    "/api/auth/me",
]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_with_and_without_trailing_slash(alice, path):
    assert alice.client.get(path).status_code == 200
    assert alice.client.get(path + "/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/members",
        "/api/branches",
        "/api/templates",
        "/api/users",
        "/api/auth/login",
        "/api/auth/register",
    ],
)
def test_malformed_json_is_a_parse_error(alice, path):
    response = alice.client.post(
        path, '{"first_name": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert_documented_error(response)


@pytest.mark.parametrize(
    "body",
    [[], "a string", 12, None, [{"first_name": "A"}], {"first_name": {"x": 1}}],
)
def test_wrong_shapes_are_validation_errors(alice, body):
    response = alice.client.post("/api/members", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "fields" in response.json()
    assert_documented_error(response)


def test_a_body_over_the_limit_is_413(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = alice.client.post("/api/members", {"notes": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_wrong_method_and_media_type(alice):
    response = alice.client.delete("/api/members")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    response = alice.client.post("/api/members", "x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_schema_and_docs_are_served(anon):
    assert anon.get("/api/schema").status_code == 200
    assert anon.get("/api/docs").status_code == 200
