"""Stand-ins for outside services, speaking their real protocols over HTTP."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def reply_json(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class FakeTwilio:
    """Twilio's Messages API (create, list) on 127.0.0.1, for the real client.

    `fail_next` queues answers to give instead of success:
    (status, twilio_error_code) pairs, e.g. (429, 20429) or (400, 21211).
    """

    def __init__(self, account_sid: str = "AC" + "0" * 32, token: str = "secret"):
        self.account_sid, self.token = account_sid, token
        self.created: list[dict] = []
        self.fail_next: list[tuple[int, int]] = []
        self.delay = 0.0  # seconds to wait before answering a create (a slow API)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: dict) -> None:
                reply_json(self, status, body)

            def _authorised(self) -> bool:
                expected = base64.b64encode(
                    f"{fake.account_sid}:{fake.token}".encode()
                ).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def do_POST(self):
                if not self._authorised():
                    return self._reply(
                        401, {"code": 20003, "message": "Authenticate", "status": 401}
                    )
                length = int(self.headers.get("Content-Length", 0))
                form = {
                    k: v[0]
                    for k, v in parse_qs(self.rfile.read(length).decode()).items()
                }
                with fake.lock:
                    failure = fake.fail_next.pop(0) if fake.fail_next else None
                    if failure is None:
                        record = {
                            "sid": "SM" + uuid.uuid4().hex,
                            "to": form.get("To"),
                            "from": form.get("From"),
                            "body": form.get("Body"),
                            "status": "queued",
                            "status_callback": form.get("StatusCallback"),
                        }
                        fake.created.append(record)
                if fake.delay:
                    threading.Event().wait(fake.delay)
                if failure is not None:
                    status, code = failure
                    return self._reply(
                        status,
                        {
                            "code": code,
                            "message": f"error {code}",
                            "more_info": "",
                            "status": status,
                        },
                    )
                return self._reply(
                    201,
                    {
                        **record,
                        "account_sid": fake.account_sid,
                        "num_segments": "1",
                        "uri": "/x",
                    },
                )

            def do_GET(self):
                if not self._authorised():
                    return self._reply(401, {"code": 20003, "status": 401})
                query = parse_qs(urlsplit(self.path).query)
                to = query.get("To", [None])[0]
                with fake.lock:
                    found = [m for m in fake.created if to in (None, m["to"])]
                return self._reply(
                    200,
                    {
                        "messages": [{**m, "date_sent": None} for m in found],
                        "end": len(found),
                        "first_page_uri": "/",
                        "next_page_uri": None,
                        "page": 0,
                        "page_size": 50,
                        "start": 0,
                        "uri": "/",
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeTwilio:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sent_to(self, phone: str) -> list[dict]:
        with self.lock:
            return [m for m in self.created if m["to"] == phone]
