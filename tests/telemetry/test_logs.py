"""Log lines: JSON with the request's ids, the same ids in the tasks it queued,
and never a phone number, a message body or a token."""

import datetime as dt
import io
import json
import logging
import time

import pytest

from telemetry.logs import ContextFilter, JsonFormatter
from tenants.context import tenant_context
from tests.accounts.conftest import login, register
from tests.conftest import CeleryWorker, publishing_to, worker_environment
from tests.messaging.fixtures import add_member, send


@pytest.fixture
def json_logs():
    """Every log line of this process, as production writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_a_sane_request_id_is_kept_and_echoed(anon):
    answer = anon.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a:42")
    assert answer["X-Request-ID"] == "lb-7f3a:42"


@pytest.mark.parametrize(
    "sent", [None, "x" * 129, "has space", "bell\x07", "tab\there", "é-accent"]
)
def test_a_missing_long_or_odd_request_id_is_replaced_by_a_new_one(anon, sent):
    headers = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    first = anon.get("/healthz", **headers)["X-Request-ID"]
    second = anon.get("/healthz", **headers)["X-Request-ID"]
    assert first != sent
    assert len(first) == 32
    assert int(first, 16) >= 0  # hex
    assert first != second


def test_the_access_line_carries_ids_route_status_and_duration(alice, json_logs):
    answer = alice.client.get("/api/members", HTTP_X_REQUEST_ID="trace-me")
    assert answer.status_code == 200
    access = [
        line for line in lines(json_logs) if line["logger"] == "churchtext.access"
    ]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "trace-me"
    assert line["tenant_id"] == str(alice.tenant.id)
    assert line["user_id"] == str(alice.user.id)
    assert (line["method"], line["route"], line["status"]) == (
        "GET",
        "api/members/?$",
        200,
    )
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO"
    assert line["time"].endswith("+00:00")


def test_tasks_a_request_queued_log_with_its_ids(church, json_logs):
    """Tasks run in the web process here (eager): their lines carry the ids."""
    add_member(church.client, "+14155550101")
    answer = church.client.post(
        "/api/messages/send",
        {"body": "Hi", "recipients": {"all": True}},
        format="json",
        HTTP_X_REQUEST_ID="send-1",
    )
    assert answer.status_code == 202, answer.content
    batch = [line for line in lines(json_logs) if "batch of" in line["message"]]
    assert batch, lines(json_logs)
    assert all(line["request_id"] == "send-1" for line in batch)
    assert all(line["tenant_id"] == str(church.tenant.id) for line in batch)


SECRET_BODY = "Pastor Dan's private prayer list"


def test_no_phone_body_or_token_reaches_a_log_line(anon, registry, json_logs, settings):
    settings.SMS_BACKEND = "locmem"
    settings.SMS_RATE_PER_NUMBER = 0
    registered = register(anon)
    assert registered.status_code == 201, registered.content
    access = registered.json()["access"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    anon.patch(
        "/api/tenant",
        {"phone_number": "+14155550199", "quiet_hours": None},
        format="json",
    )
    add_member(anon, "(415) 555-0101")
    assert send(anon, body=SECRET_BODY, recipients={"all": True}).status_code == 202
    anon.post("/api/members", {"first_name": "X", "phone": "+1415555"}, format="json")
    anon.credentials()
    tokens = login(anon).json()
    login(anon, password="wrong password")
    anon.get("/api/members", HTTP_AUTHORIZATION="Bearer " + tokens["access"] + "x")

    written = json_logs.getvalue()
    assert "churchtext.access" in written  # the capture works
    for secret in [
        "4155550101",
        "4155550199",
        "+1415555",
        SECRET_BODY,
        access,
        tokens["access"],
        tokens["refresh"],
        "correct horse battery staple",
        "wrong password",
    ]:
        assert secret not in written, secret


def test_a_worker_logs_with_the_request_id_of_the_send(
    church, redis_server, fake_twilio, tmp_path
):
    """A real worker, fed by the broker: the ids travel in the task headers."""
    add_member(church.client, "+14155550101")
    output = tmp_path / "worker.log"
    env = worker_environment(
        redis_server.url,
        SMS_BACKEND="twilio",
        SMS_RATE_PER_NUMBER="0",
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.token,
        TWILIO_API_BASE_URL=fake_twilio.url,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    worker = CeleryWorker(env, concurrency=1, output=output).start()
    try:
        with publishing_to(redis_server.url):
            answer = church.client.post(
                "/api/messages/send",
                {"body": SECRET_BODY, "recipients": {"all": True}},
                format="json",
                HTTP_X_REQUEST_ID="from-the-web",
            )
            assert answer.status_code == 202, answer.content
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "batch of" not in output.read_text():
                time.sleep(0.2)
    finally:
        worker.stop()
    written = output.read_text()
    batch = [
        json.loads(line)
        for line in written.splitlines()
        if line.startswith("{") and "batch of" in line
    ]
    assert batch, written[-3000:]
    assert batch[0]["request_id"] == "from-the-web"
    assert batch[0]["tenant_id"] == str(church.tenant.id)
    assert SECRET_BODY not in written
    assert "4155550101" not in written
    with tenant_context(church.tenant):
        from messaging.models import Message

        assert Message.objects.filter(status="sent").count() == 1


@pytest.mark.parametrize("created", [1764583200.0, 1764583200.0999, 1764583259.9996])
def test_a_line_tells_its_time_to_the_millisecond_in_utc(created):
    record = logging.makeLogRecord({"msg": "hello", "levelname": "INFO"})
    record.created, record.msecs = created, (created - int(created)) * 1000
    formatter = JsonFormatter()
    formatter.format(logging.makeLogRecord({"msg": "another second, cached first"}))
    line = json.loads(formatter.format(record))
    expected = dt.datetime.fromtimestamp(created, dt.UTC)
    assert line["time"] == expected.isoformat(timespec="milliseconds")
    assert line["message"] == "hello"
