"""deploy/haproxy.cfg: each church's requests reach the same web server, a busy
church spills over, requests without a church are spread; the proxy's own
rules (forwarding headers, /metrics, the health check's Host)."""

import http.client
import shutil
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from config.wsgi import application
from tests.conftest import make_persona, service_missing, wait_until
from tests.haproxy import ChurchProxy


class Backend:
    """A web server standing in for a gunicorn: it answers with its name,
    records what it was sent, and holds `/hold` requests until released."""

    def __init__(self, name: str) -> None:
        self.seen: list[str] = []  # paths, in order
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/healthz":
                    backend.seen.append(self.path)
                    backend.headers.append(dict(self.headers))
                if self.path == "/hold":
                    backend.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", str(len(name)))
                self.end_headers()
                self.wfile.write(name.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def needs_haproxy() -> None:
    if shutil.which("haproxy") is None:
        service_missing("haproxy")


@pytest.fixture
def proxy():
    needs_haproxy()
    backends = {name: Backend(name) for name in ("web1", "web2")}
    proxy = ChurchProxy([b.port for b in backends.values()])
    try:
        proxy.start()
        yield proxy, backends
    finally:
        for backend in backends.values():
            backend.close()
        proxy.close()


def served_by(port: int, token: str = "", path: str = "/api/members", **headers) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        return answer.read().decode() if answer.status == 200 else str(answer.status)
    finally:
        conn.close()


def token_for(tenant_id: uuid.UUID) -> str:
    token = AccessToken()
    token["tenant_id"] = str(tenant_id)
    return str(token)


def test_every_login_of_a_church_reaches_the_same_server(proxy, tenant_a):
    proxy, _ = proxy
    logins = [make_persona(tenant_a, role="staff").access for _ in range(8)]
    assert len(set(logins)) == 8
    # A header sent by the client does not choose the server: the proxy sets it.
    picked = set()
    for token in logins:
        for n in range(3):
            # The request before may still be counted as the server's load,
            # and a church whose server is loaded spills (as it should).
            assert wait_until(proxy.idle)
            picked.add(served_by(proxy.port, token, **{"X-Church": str(n)}))
    assert len(picked) == 1
    assert picked <= {"web1", "web2"}


def test_churches_are_spread_over_the_servers(proxy):
    proxy, _ = proxy
    picked = {served_by(proxy.port, token_for(uuid.uuid4())) for _ in range(40)}
    assert picked == {"web1", "web2"}


def test_requests_without_a_church_go_round_robin(proxy):
    proxy, _ = proxy
    anonymous = {served_by(proxy.port, path="/api/auth/login") for _ in range(10)}
    assert anonymous == {"web1", "web2"}
    garbled = {served_by(proxy.port, "not-a-jwt") for _ in range(10)}
    assert garbled == {"web1", "web2"}


def test_a_busy_church_spills_onto_the_other_server(proxy):
    proxy, backends = proxy
    token = token_for(uuid.uuid4())
    holding = [
        threading.Thread(target=served_by, args=(proxy.port, token, "/hold"))
        for _ in range(4)
    ]
    for thread in holding:
        thread.start()
    try:
        assert wait_until(lambda: sum(len(b.seen) for b in backends.values()) == 4)
        assert not proxy.idle()
        assert all(
            b.seen == ["/hold"] * len(b.seen) and b.seen for b in backends.values()
        )
    finally:
        for backend in backends.values():
            backend.release.set()
        for thread in holding:
            thread.join(60)


def test_forwarding_headers_are_the_proxys_own(proxy):
    proxy, backends = proxy
    sent = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "SCRIPT_NAME": "/x"}
    assert served_by(proxy.port, **sent) in {"web1", "web2"}
    (received,) = [h for b in backends.values() for h in b.headers]
    headers = {name.lower(): value for name, value in received.items()}
    assert set(headers).isdisjoint(
        {"x-forwarded-proto", "x-forwarded-ssl", "script_name"}
    )
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_metrics_are_not_served_through_the_proxy(proxy):
    proxy, backends = proxy
    assert served_by(proxy.port, path="/metrics") == "404"
    assert not any(b.seen for b in backends.values())


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    ("host", "answered"), [("api.church.example", 200), ("localhost", 400)]
)  # fmt: skip
def test_the_health_check_must_name_an_allowed_host(settings, host, answered):
    """Against the product with ALLOWED_HOSTS set: the check's Host comes from
    CHURCHTEXT_HOST; any other host is refused (400) and the server would be
    taken out."""
    needs_haproxy()
    settings.ALLOWED_HOSTS, settings.DEBUG = ["api.church.example"], False
    checks: list[tuple[str, int]] = []

    def product(environ, start_response):
        def recording(status, headers, exc_info=None):
            checks.append((environ.get("HTTP_HOST", ""), int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return application(environ, recording)

    server = make_server("127.0.0.1", 0, product, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = ChurchProxy([server.server_address[1]], host=host)
    try:
        proxy.start()
        assert wait_until(lambda: checks)
    finally:
        proxy.close()
        server.shutdown()
        server.server_close()
    assert checks[0] == (host, answered)


def test_haproxy_refuses_to_start_without_the_host():
    needs_haproxy()
    proxy = ChurchProxy([8001], host=None)
    try:
        refused = proxy.validate()
        accepted = ChurchProxy([8001]).validate()
    finally:
        proxy.close()
    assert refused.returncode != 0
    assert "CHURCHTEXT_HOST" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
