"""The served application (config.wsgi): each request's path resolved once."""

import json
import threading
import uuid
from io import BytesIO

import pytest
from django.db import connections
from django.urls.resolvers import URLResolver

from config.wsgi import application
from members.models import Member
from tenants.context import tenant_context
from tests.conftest import make_tenant


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

    result = application(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        result.close()  # request_finished, as a server sends it
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


class _Counted:
    """The connection wrappers (`connections._connections`), counting the
    look-ups this thread makes through them (not the background threads')."""

    def __init__(self, real) -> None:
        object.__setattr__(self, "real", real)
        object.__setattr__(self, "lookups", 0)
        object.__setattr__(self, "thread", threading.get_ident())

    def __getattr__(self, name):
        if threading.get_ident() == self.thread:
            object.__setattr__(self, "lookups", self.lookups + 1)
        return getattr(self.real, name)

    def __setattr__(self, name, value) -> None:
        setattr(self.real, name, value)

    def __delattr__(self, name) -> None:
        delattr(self.real, name)


class _Walked(dict):
    """`connections.settings`, counting the walks over every alias registered."""

    walks = 0

    def __iter__(self):
        _Walked.walks += 1
        return super().__iter__()

    def items(self):
        _Walked.walks += 1
        return super().items()


def _work_of_a_request(token: str, kept: int) -> tuple[int, int]:
    """Look-ups of connection wrappers and walks over the aliases made by two
    warm tenant requests (one answered 404), `kept` more tenants open here."""
    for i in range(kept):
        with tenant_context(make_tenant(f"Kept Church {i}")):
            Member.objects.count()
    call("GET", "/api/members", token=token)  # warm: its tenant is open
    real_wrappers, real_settings = connections._connections, connections.settings
    counted, walked = _Counted(real_wrappers), _Walked(real_settings)
    connections._connections, connections.settings, _Walked.walks = counted, walked, 0
    try:
        status, _ = call("GET", "/api/members", token=token)
        missing, _ = call("GET", f"/api/members/{uuid.uuid4()}", token=token)
    finally:
        published = connections.settings
        connections._connections, connections.settings = real_wrappers, real_settings
    assert published is walked  # no alias registered or evicted meanwhile
    assert (status, missing) == (200, 404)  # the 404 through DRF's error handler
    return counted.lookups, _Walked.walks


def test_a_requests_work_does_not_grow_with_the_tenants_kept_open(alice, settings):
    """Django clears every alias's query log as a request starts and looks for
    ATOMIC_REQUESTS on every alias; DRF's error handler looks at every alias
    too. A process keeps up to TENANT_CONNECTION_LRU_SIZE tenants open: none of
    that may cost per tenant kept."""
    settings.DEBUG = False
    settings.TENANT_CONNECTION_LRU_SIZE = 20
    with_two = _work_of_a_request(alice.access, kept=2)
    with_eight = _work_of_a_request(alice.access, kept=6)  # 2 + 6 kept
    assert with_eight == with_two
    assert with_two[1] == 0


def test_atomic_requests_on_the_registry_would_still_be_honoured(registry, monkeypatch):
    """Only tenant aliases are skipped: were the registry given ATOMIC_REQUESTS
    (system check tenants.E006 refuses it), a view would run in its
    transaction and an error answer would roll it back."""
    from django.conf import settings as django_settings

    from config.handlers import WSGIHandler
    from tenants.connections import set_static_rollback

    registry_alias = django_settings.DATABASES["default"]
    monkeypatch.setitem(registry_alias, "ATOMIC_REQUESTS", True)
    registry_wrapper = connections["default"]
    inside = []

    def view() -> None:
        inside.append(registry_wrapper.in_atomic_block)
        set_static_rollback()
        inside.append(registry_wrapper.get_rollback())

    WSGIHandler.make_view_atomic(None, view)()
    assert inside == [True, True]
