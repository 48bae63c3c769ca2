"""Sentry: an unhandled error reaches the DSN's endpoint tagged and scrubbed.

The endpoint is a local stand-in speaking Sentry's envelope protocol, reached
through the real SDK and its HTTP transport.
"""

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk

from members.views import MemberViewSet
from telemetry.sentry import init_sentry

PHONE = "+14155550101"


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding:
            raise AssertionError(f"unexpected encoding {encoding}")
        self.server.envelopes.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    init_sentry(
        f"http://publickey@127.0.0.1:{server.server_port}/1", environment="test"
    )
    yield server
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: the SDK stays off for the other tests
    server.shutdown()


def events(envelopes: list[bytes]) -> list[dict]:
    found = []
    for envelope in envelopes:
        parts = envelope.split(b"\n")
        for header, payload in zip(parts[1::2], parts[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def test_an_unhandled_error_reaches_sentry_tagged_and_scrubbed(
    alice, sentry_endpoint, monkeypatch
):
    def explode(self):
        token = alice.access
        raise RuntimeError(f"failed texting {PHONE} with {token}")

    monkeypatch.setattr(MemberViewSet, "get_queryset", explode)
    answer = alice.client.get(
        "/api/members?search=" + PHONE.replace("+", "%2B"),
        HTTP_X_REQUEST_ID="sentry-1",
    )
    assert answer.status_code == 500
    assert answer.json()["code"] == "server_error"
    sentry_sdk.flush(timeout=10)

    [event] = events(sentry_endpoint.envelopes)
    assert event["tags"]["tenant_id"] == str(alice.tenant.id)
    assert event["tags"]["request_id"] == "sentry-1"
    raw = json.dumps(event)
    assert "RuntimeError" in raw
    assert "failed texting" in raw
    assert PHONE not in raw
    assert "4155550101" not in raw
    assert alice.access not in raw
    assert "user" not in event
    headers = {k.lower() for k in event.get("request", {}).get("headers", {})}
    assert "authorization" not in headers
    assert "cookie" not in headers
