"""AI-drafted messages, against a local stand-in for an OpenAI-compatible server.

The stand-in speaks chat completions; the production client goes to it
unchanged. It answers from a script and records what it was asked.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from messaging.models import Message
from tenants.context import tenant_context

KEY = "sk-test-standin"


class _Completions(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        length = int(self.headers["Content-Length"])
        asked = json.loads(self.rfile.read(length))
        server = self.server
        auth = self.headers["Authorization"]
        server.requests.append({"path": self.path, "auth": auth, "body": asked})
        status, content = server.script.pop(0) if server.script else (500, None)
        payload = (
            {"choices": [{"message": {"role": "assistant", "content": content}}]}
            if status == 200
            else {"error": {"message": "boom"}}
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def model(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Completions)
    server.requests, server.script = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.AI_BACKEND = "openai"
    settings.AI_API_BASE = f"http://127.0.0.1:{server.server_port}/v1"
    settings.AI_API_KEY = KEY
    settings.AI_MODEL = "stand-in-1"
    settings.AI_TIMEOUT_SECONDS = 5
    yield server
    server.shutdown()


def draft(client, **body):
    return client.post("/api/messages/drafts", body, format="json")


def test_without_a_model_drafting_is_not_available(alice, settings):
    settings.AI_BACKEND = "none"
    answer = draft(alice.client, prompt="Easter service times")
    assert answer.status_code == 409
    assert answer.json()["code"] == "not_available"


def test_a_draft_is_checked_counted_and_never_sent(alice, model):
    model.script = [(200, '"Hi {first_name}, Easter service is at 10am. See you!"')]
    answer = draft(alice.client, prompt="Easter service at 10am")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "body": "Hi {first_name}, Easter service is at 10am. See you!",
        "segments": 1,
        "encoding": "GSM-7",
        "variables": ["first_name"],
        "ucs2_characters": [],
    }
    [asked] = model.requests
    assert asked["path"] == "/v1/chat/completions"
    assert asked["auth"] == f"Bearer {KEY}"
    assert asked["body"]["model"] == "stand-in-1"
    system, user = asked["body"]["messages"]
    assert "{first_name}" in system["content"]
    assert alice.tenant.name in system["content"]
    assert user["content"] == "Easter service at 10am"
    with tenant_context(alice.tenant):
        assert not Message.objects.exists()


def test_an_emoji_is_reported_as_forcing_ucs2(alice, model):
    model.script = [(200, "Happy Easter! 🌷")]
    body = draft(alice.client, prompt="Easter greeting").json()
    assert (body["encoding"], body["ucs2_characters"]) == ("UCS-2", ["🌷"])


def test_over_the_limit_it_asks_once_for_shorter(alice, model):
    long = "Join us " + "for worship and fellowship " * 10
    model.script = [(200, long), (200, "Join us Sunday at 10am!")]
    body = draft(alice.client, prompt="Invite", max_segments=1).json()
    assert body["body"] == "Join us Sunday at 10am!"
    assert len(model.requests) == 2
    retry = model.requests[1]["body"]["messages"]
    assert retry[-2] == {"role": "assistant", "content": long.strip()}
    assert "shorter" in retry[-1]["content"]
    assert "fit in 1" in retry[-1]["content"]


def test_still_too_long_after_the_retry_it_is_returned_with_its_count(alice, model):
    long = "Join us " + "for worship and fellowship " * 10
    model.script = [(200, long), (200, long)]
    body = draft(alice.client, prompt="Invite", max_segments=1).json()
    assert body["segments"] == 2  # the caller sees it is over; nothing is sent
    assert len(model.requests) == 2


def test_unknown_placeholders_are_refused_after_one_retry(alice, model):
    model.script = [(200, "Hi {nickname}!"), (200, "Hi {first_name}!")]
    assert draft(alice.client, prompt="Hello").json()["variables"] == ["first_name"]
    assert "{nickname}" in model.requests[1]["body"]["messages"][-1]["content"]
    model.script = [(200, "Hi {nickname}!"), (200, "Hi {nickname}!")]
    answer = draft(alice.client, prompt="Hello")
    assert answer.status_code == 502
    assert answer.json()["code"] == "upstream_error"


def test_a_template_is_given_to_the_model(alice, model):
    template = alice.client.post(
        "/api/templates",
        {"name": "Welcome", "body": "Welcome, {first_name}!"},
        format="json",
    ).json()
    model.script = [(200, "Welcome to the family, {first_name}!")]
    answer = draft(alice.client, prompt="Warmer", template=template["id"])
    assert answer.status_code == 200, answer.content
    assert (
        "Welcome, {first_name}!" in model.requests[0]["body"]["messages"][1]["content"]
    )


@pytest.mark.parametrize("failure", [(500, None), (200, None), (200, "")])
def test_a_failing_provider_is_a_502(alice, model, failure):
    model.script = [failure]
    answer = draft(alice.client, prompt="Anything")
    assert answer.status_code == 502
    assert answer.json()["code"] == "upstream_error"


def test_an_unreachable_provider_is_a_502(alice, model, settings):
    settings.AI_API_BASE = "http://127.0.0.1:9/v1"  # discard: nothing listens
    assert draft(alice.client, prompt="Anything").status_code == 502


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": "x", "max_segments": 0}, "max_segments"),
        ({"prompt": "x", "max_segments": 11}, "max_segments"),
        (
            {"prompt": "x", "template": "00000000-0000-4000-8000-000000000000"},
            "template",
        ),
    ],
)
def test_bad_input_is_a_400_and_the_model_is_not_asked(alice, model, body, field):
    answer = draft(alice.client, **body)
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert model.requests == []


def test_another_churchs_template_is_unknown(alice, bob, model):
    theirs = bob.client.post(
        "/api/templates", {"name": "Theirs", "body": "Hello"}, format="json"
    ).json()
    answer = draft(alice.client, prompt="x", template=theirs["id"])
    assert answer.status_code == 400
    assert "template" in answer.json()["fields"]
