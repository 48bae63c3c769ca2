"""A stand-in for Planning Center's People and Webhooks APIs, over HTTP.

It speaks JSON:API as Planning Center does: HTTP Basic with an application id
and secret, `per_page` (at most 100) and `offset` with `links.next`,
`include=phone_numbers,emails`, `where[updated_at][gt]`, errors as
`{"errors": [{"status", "title", "detail"}]}`, and a rate limit of `limit`
requests per `period` seconds per account: past it, `429` with `Retry-After`.
Every answer carries `X-PCO-API-Request-Rate-Limit/-Period/-Count`.

Webhook deliveries are built as Planning Center sends them: an `EventDelivery`
whose `payload` is the resource as a JSON string, signed with the
subscription's authenticity secret (`X-PCO-Webhooks-Authenticity`).

`clock` is what it reads the time from: tests pass a clock that the client's
waits advance, so a rate-limited sync runs without real waiting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class FakeClock:
    """Time that moves only when something waits (the client's `sleep`)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)
            self.now += max(seconds, 0)


class FakePlanningCenter:
    PER_PAGE_MAX = 100

    def __init__(
        self,
        app_id: str = "pco-app",
        secret: str = "pco-secret",
        *,
        limit: int = 100,
        period: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id, self.secret = app_id, secret
        self.limit, self.period, self.clock = limit, period, clock
        self.people: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, dict[str, Any]] = {}  # id -> {name, people: [ids]}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.throttled = 0  # 429s answered
        self.fail_next: list[tuple[int, str]] = []  # (status, detail) to answer
        self.omit_secret = False  # subscriptions made without their secret
        self.lock = threading.Lock()
        self._window: tuple[float, int] = (-math.inf, 0)  # (start, count)
        self._tick = 0
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- data -------------------------------------------------------------

    def add_list(self, name: str, list_id: str | None = None) -> str:
        list_id = list_id or str(len(self.lists) + 1)
        self.lists[list_id] = {"name": name, "people": []}
        return list_id

    def add_person(
        self,
        first: str,
        last: str = "",
        *,
        phones: list[tuple[str, str, bool]] = (),  # (number, location, primary)
        emails: list[tuple[str, bool]] = (),  # (address, primary)
        lists: list[str] = (),
        person_id: str | None = None,
    ) -> str:
        person_id = person_id or str(100_000 + len(self.people))
        self.people[person_id] = {
            "first_name": first,
            "last_name": last,
            "phones": [list(p) for p in phones],
            "emails": [list(e) for e in emails],
            "updated_at": self._now_stamp(),
        }
        for list_id in lists:
            self.lists[list_id]["people"].append(person_id)
        return person_id

    def update_person(self, person_id: str, **changes: Any) -> None:
        person = self.people[person_id]
        for key, value in changes.items():
            person[key] = (
                [list(v) for v in value] if key in {"phones", "emails"} else value
            )
        person["updated_at"] = self._now_stamp()

    def _now_stamp(self) -> str:
        self._tick += 1
        return f"2026-03-01T00:00:00.{self._tick:06d}Z"

    # --- resources ----------------------------------------------------------

    def _person_resource(self, person_id: str) -> tuple[dict, list[dict]]:
        person = self.people[person_id]
        phones = [
            {
                "type": "PhoneNumber",
                "id": f"{person_id}-p{i}",
                "attributes": {
                    "number": number,
                    "location": location,
                    "primary": primary,
                },
            }
            for i, (number, location, primary) in enumerate(person["phones"])
        ]
        emails = [
            {
                "type": "Email",
                "id": f"{person_id}-e{i}",
                "attributes": {
                    "address": address,
                    "location": "Home",
                    "primary": primary,
                },
            }
            for i, (address, primary) in enumerate(person["emails"])
        ]
        resource = {
            "type": "Person",
            "id": person_id,
            "attributes": {
                "first_name": person["first_name"],
                "last_name": person["last_name"],
                "updated_at": person["updated_at"],
            },
            "relationships": {
                "phone_numbers": {
                    "data": [{"type": "PhoneNumber", "id": p["id"]} for p in phones]
                },
                "emails": {"data": [{"type": "Email", "id": e["id"]} for e in emails]},
            },
        }
        return resource, phones + emails

    def delivery(
        self,
        name: str,
        person_id: str,
        subscription: str | None = None,
        kind: str = "Person",
    ):
        """(body, headers) of a webhook about `person_id` (a `kind` resource of
        theirs), signed for `name`'s first subscription or the one given."""
        if subscription is None:
            subscription = next(
                s for s, sub in self.subscriptions.items() if sub["name"] == name
            )
        if kind != "Person":
            resource = {
                "type": kind,
                "id": f"{person_id}-x",
                "attributes": {},
                "relationships": {
                    "person": {"data": {"type": "Person", "id": person_id}}
                },
            }
        elif person_id in self.people:
            resource, _ = self._person_resource(person_id)
        else:
            resource = {"type": "Person", "id": person_id, "attributes": {}}
        event_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "data": [
                    {
                        "id": event_id,
                        "type": "EventDelivery",
                        "attributes": {
                            "name": name,
                            "attempt": 1,
                            "payload": json.dumps({"data": resource}),
                        },
                    }
                ]
            }
        ).encode()
        secret = self.subscriptions[subscription]["authenticity_secret"]
        headers = {
            "X-PCO-Webhooks-Name": name,
            "X-PCO-Webhooks-Event-ID": event_id,
            "X-PCO-Webhooks-Authenticity": hmac.new(
                secret.encode(), body, hashlib.sha256
            ).hexdigest(),
        }
        return body, headers

    # --- HTTP ---------------------------------------------------------------

    def _admit(self) -> tuple[bool, int, float]:
        """Count a request in the current window: (allowed, count, retry_after)."""
        now = self.clock()
        start, count = self._window
        if now - start >= self.period:
            start, count = now, 0
        count += 1
        self._window = (start, count)
        return count <= self.limit, count, start + self.period - now

    def _page(self, ids: list[str], query: dict[str, str], path: str, kind: str):
        per_page = min(int(query.get("per_page", 25)), self.PER_PAGE_MAX)
        offset = int(query.get("offset", 0))
        after = query.get("where[updated_at][gt]")
        if after and kind == "Person":
            ids = [i for i in ids if self.people[i]["updated_at"] > after]
        chunk = ids[offset : offset + per_page]
        data, included = [], []
        for item in chunk:
            if kind == "Person":
                resource, extra = self._person_resource(item)
                data.append(resource)
                if "include" in query:
                    included += extra
            else:
                data.append(
                    {
                        "type": "List",
                        "id": item,
                        "attributes": {"name": self.lists[item]["name"]},
                    }
                )
        links: dict[str, str] = {"self": f"{self.base}{path}"}
        if offset + per_page < len(ids):
            links["next"] = f"{self.base}{path}?" + urlencode(
                {**query, "offset": offset + per_page, "per_page": per_page}
            )
        return {
            "data": data,
            "included": included,
            "links": links,
            "meta": {"total_count": len(ids), "count": len(chunk)},
        }

    def _answer(self, method: str, path: str, query: dict[str, str], body: bytes):
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["people", "v2", "lists"]:
            return 200, self._page(sorted(self.lists, key=int), query, path, "List")
        if (
            method == "GET"
            and parts[:3] == ["people", "v2", "lists"]
            and parts[4:] == ["people"]
        ):
            if parts[3] not in self.lists:
                return 404, _error(404, "Not Found", "Resource Not Found")
            return 200, self._page(
                self.lists[parts[3]]["people"], query, path, "Person"
            )
        if method == "GET" and parts == ["people", "v2", "people"]:
            return 200, self._page(sorted(self.people), query, path, "Person")
        if (
            method == "GET"
            and parts[:3] == ["people", "v2", "people"]
            and len(parts) == 4
        ):
            if parts[3] not in self.people:
                return 404, _error(404, "Not Found", "Resource Not Found")
            resource, included = self._person_resource(parts[3])
            return 200, {
                "data": resource,
                "included": included if "include" in query else [],
            }
        if parts == ["webhooks", "v2", "subscriptions"] and method == "POST":
            attributes = json.loads(body)["data"]["attributes"]
            sub_id = str(len(self.subscriptions) + 1)
            self.subscriptions[sub_id] = {
                "name": attributes["name"],
                "url": attributes["url"],
                "active": attributes.get("active", True),
                "authenticity_secret": secrets.token_hex(32),
            }
            shown = dict(self.subscriptions[sub_id])
            if self.omit_secret:
                del shown["authenticity_secret"]
            return 201, {
                "data": {"type": "Subscription", "id": sub_id, "attributes": shown}
            }
        if parts[:3] == ["webhooks", "v2", "subscriptions"] and method == "DELETE":
            if self.subscriptions.pop(parts[3], None) is None:
                return 404, _error(404, "Not Found", "Resource Not Found")
            return 204, None
        return 404, _error(404, "Not Found", "Resource Not Found")

    def start(self) -> FakePlanningCenter:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                expected = base64.b64encode(
                    f"{fake.app_id}:{fake.secret}".encode()
                ).decode()
                with fake.lock:
                    fake.requests.append((method, self.path))
                    allowed, count, retry = fake._admit()
                    headers = {
                        "X-PCO-API-Request-Rate-Limit": str(fake.limit),
                        "X-PCO-API-Request-Rate-Period": str(fake.period),
                        "X-PCO-API-Request-Rate-Count": str(count),
                    }
                    if not allowed:
                        fake.throttled += 1
                        status, answer = (
                            429,
                            _error(429, "Too Many Requests", "Rate limit exceeded"),
                        )
                        headers["Retry-After"] = str(max(1, math.ceil(retry)))
                    elif self.headers.get("Authorization") != f"Basic {expected}":
                        status, answer = (
                            401,
                            _error(
                                401,
                                "Unauthorized",
                                "The application id or secret is not valid.",
                            ),
                        )
                    elif fake.fail_next:
                        code, detail = fake.fail_next.pop(0)
                        status, answer = code, _error(code, "Error", detail)
                    else:
                        status, answer = fake._answer(method, url.path, query, body)
                if answer is None:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    return
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.api+json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _error(status: int, title: str, detail: str) -> dict:
    return {"errors": [{"status": str(status), "title": title, "detail": detail}]}
