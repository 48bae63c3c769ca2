"""The served application (config.wsgi): each request's path resolved once."""

import json
from io import BytesIO

import pytest
from django.urls.resolvers import URLResolver

from config.wsgi import application


def call(method: str, path: str, body: dict | None = None, token: str = "") -> tuple:
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(raw), "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/json", "HTTP_ACCEPT": "application/json",
    }  # fmt: skip
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])

    content = b"".join(application(environ, start_response))
    return answer["status"], json.loads(content) if content else None


@pytest.fixture
def resolves(monkeypatch):
    """Paths the URL resolver was asked to resolve (from the top)."""
    seen = []
    original = URLResolver.resolve

    def counting(self, path):
        if self.pattern.describe() in ("'^/'", "'/'"):
            seen.append(path)
        return original(self, path)

    monkeypatch.setattr(URLResolver, "resolve", counting)
    return seen


def test_a_tenant_request_resolves_its_path_once(alice, resolves):
    status, body = call("GET", "/api/members", token=alice.access)
    assert status == 200
    assert body["results"] == []
    assert resolves == ["/api/members"]


def test_a_view_outside_tenants_is_served_with_a_token_sent_along(alice, resolves):
    """Login ignores a token; the match found for that is the one served."""
    status, body = call(
        "POST", "/api/auth/login", {"email": alice.user.email, "password": "wrong"},
        token=alice.access,
    )  # fmt: skip
    assert status == 401
    assert body["code"] == "invalid_credentials"
    assert resolves == ["/api/auth/login"]


def test_a_request_without_a_token_is_resolved_by_django(resolves, registry):
    status, _ = call("GET", "/healthz")
    assert status == 200
    assert resolves == ["/healthz"]
