"""The HTTP client of every benchmark: HTTP/1.1 with `http.client`, one connection
per request (gunicorn's sync workers close each one anyway), so that the client
costs little and the same against every server measured. Thread-safe."""

import http.client
import json
import time
import uuid
from typing import Any, NamedTuple
from urllib.parse import urlencode

from bench.harness import PASSWORD

NO_ANSWER = (OSError, http.client.HTTPException)  # refused, reset, timed out


class Answer(NamedTuple):
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Client:
    def __init__(self, port: int, token: str | None = None) -> None:
        self.port, self.token = port, token

    def request(
        self, method: str, path: str, json_body: Any = None, *,
        form: dict[str, str] | None = None, body: bytes | None = None,
        content_type: str | None = None, token: str | None = None,
        headers: dict[str, str] | None = None, timeout: float = 120,
    ) -> Answer:  # fmt: skip
        sent = {"Host": "127.0.0.1", "Accept": "application/json"}
        if json_body is not None:
            body, content_type = json.dumps(json_body).encode(), "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            content_type = "application/x-www-form-urlencoded"
        if content_type:
            sent["Content-Type"] = content_type
        if body is not None:
            sent["Content-Length"] = str(len(body))
        if token := token or self.token:
            sent["Authorization"] = f"Bearer {token}"
        sent |= headers or {}
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            return Answer(response.status, data, time.perf_counter() - started)
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Answer:
        return self.request("POST", path, json_body, **kwargs)

    def upload(self, path: str, filename: str, data: bytes, **kwargs: Any) -> Answer:
        """A multipart/form-data POST of one CSV file in the field `file`."""
        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
        )
        body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
        kind = f"multipart/form-data; boundary={boundary}"
        return self.request("POST", path, body=body, content_type=kind, **kwargs)


def expect(answer: Answer, status: int, what: str) -> Any:
    """The answer's JSON (None if it has none), if it has the expected status."""
    if answer.status != status:
        raise RuntimeError(
            f"{what}: {answer.status}, not {status}: {answer.body[:500]!r}"
        )
    try:
        return answer.json()
    except ValueError:
        return None


def register(
    client: Client, church: str, email: str, **more: str
) -> tuple[Answer, Any]:
    """`POST /api/auth/register` of a new church, password `PASSWORD`: the
    answer and its JSON (a registration must succeed)."""
    body = {"organization_name": church, "email": email, "password": PASSWORD} | more
    answer = client.post("/api/auth/register", body)
    return answer, expect(answer, 201, f"register {church}")
