"""A stand-in for the parts of Stripe's API the billing backend calls.

The real `stripe` client talks to it (`STRIPE_API_BASE`); events are signed
with Stripe's scheme (`Stripe-Signature: t=...,v1=HMAC-SHA256(secret,
"t.payload")`), so the production verification runs unchanged. It can be
stopped and started again on the same port, keeping what it holds (an outage).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes import reply_json


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:14]}"


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into dicts (lists as dicts)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _error(code: str, message: str) -> dict:
    return {
        "error": {"type": "invalid_request_error", "code": code, "message": message}
    }


class FakeStripe:
    def __init__(
        self, secret_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake"
    ):
        self.secret_key, self.webhook_secret = secret_key, webhook_secret
        self.customers: dict[str, dict] = {}
        self.idempotency: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.meter_events: dict[str, dict] = {}  # by identifier
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    # --- the HTTP side -----------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                if self.headers.get("Authorization") != f"Bearer {fake.secret_key}":
                    reply_json(self, 401, _error("api_key_invalid", "Invalid API Key"))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = _nested(parse_qsl(self.rfile.read(length).decode()))
                with fake.lock:
                    fake.requests.append((method, self.path))
                    status, body = fake.route(method, self.path, form, self.headers)
                reply_json(self, status, body)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler

    def route(
        self, method: str, path: str, form: dict, headers: Any
    ) -> tuple[int, dict]:
        path = path.split("?")[0]
        key = headers.get("Idempotency-Key")
        if method == "POST" and key and key in self.idempotency:
            return 200, self.idempotency[key]
        if (method, path) == ("POST", "/v1/customers"):
            found = {
                "id": _id("cus"),
                "object": "customer",
                "name": form.get("name"),
                "metadata": form.get("metadata", {}),
            }
            self.customers[found["id"]] = found
        elif (method, path) == ("POST", "/v1/checkout/sessions"):
            found = {
                "id": _id("cs"),
                "object": "checkout.session",
                **form,
                "url": f"{self.url}/pay/{len(self.sessions)}",
            }
            self.sessions[found["id"]] = found
        elif (method, path) == ("POST", "/v1/billing_portal/sessions"):
            found = {
                "id": _id("bps"),
                "object": "billing_portal.session",
                "customer": form.get("customer"),
                "url": f"{self.url}/portal",
            }
        elif (method, path) == ("POST", "/v1/billing/meter_events"):
            identifier = form["identifier"]
            if identifier in self.meter_events:
                return 400, _error("resource_already_exists", "Identifier seen.")
            found = {"object": "billing.meter_event", **form}
            self.meter_events[identifier] = found
        elif method == "GET" and path.startswith("/v1/subscriptions/"):
            found = self.subscriptions.get(path.rsplit("/", 1)[1])
        elif method == "DELETE" and path.startswith("/v1/subscriptions/"):
            found = self.subscriptions.get(path.rsplit("/", 1)[1])
            if found is not None:
                found["status"] = "canceled"  # Stripe cancels at once
        elif method == "GET" and path.startswith("/v1/invoices/"):
            found = self.invoices.get(path.rsplit("/", 1)[1])
        else:
            found = None
        if found is None:
            return 404, _error("resource_missing", path)
        if method == "POST" and key:
            self.idempotency[key] = found
        return 200, found

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeStripe:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # --- what Stripe does on its side, and the events it sends -------------------

    def subscribe(
        self,
        session_id: str,
        *,
        status: str = "active",
        start: int | None = None,
        days: int = 30,
    ) -> dict:
        """The customer paid at Checkout: Stripe now has a subscription."""
        session = self.sessions[session_id]
        start = start or int(time.time())
        items = [
            {
                "id": _id("si"),
                "price": {"id": item["price"]},
                "current_period_start": start,
                "current_period_end": start + days * 86400,
            }
            for item in session["line_items"].values()
        ]
        found = {
            "id": _id("sub"),
            "object": "subscription",
            "status": status,
            "customer": session["customer"],
            "items": {"object": "list", "data": items},
            "metadata": session.get("metadata", {}),
            "cancel_at_period_end": False,
        }
        with self.lock:
            self.subscriptions[found["id"]] = found
            session["subscription"] = found["id"]
        return found

    def invoice(self, subscription: dict, *, status: str, total: int) -> dict:
        item = subscription["items"]["data"][0]
        found = {
            "id": _id("in"),
            "object": "invoice",
            "number": f"FAKE-{len(self.invoices) + 1}",
            "customer": subscription["customer"],
            "subscription": subscription["id"],
            "status": status,
            "currency": "usd",
            "subtotal": total,
            "total": total,
            "period_start": item["current_period_start"],
            "period_end": item["current_period_end"],
            "hosted_invoice_url": "https://invoice.example/1",
            "invoice_pdf": "https://invoice.example/1.pdf",
            "lines": {
                "object": "list",
                "data": [
                    {
                        "description": "Starter",
                        "quantity": 1,
                        "amount": total,
                        "price": {"unit_amount": total},
                    }
                ],
            },
        }
        with self.lock:
            self.invoices[found["id"]] = found
        return found

    def event(self, kind: str, obj: dict) -> tuple[bytes, str]:
        """An event as Stripe posts it: (body, Stripe-Signature header)."""
        body = json.dumps(
            {
                "id": _id("evt"),
                "object": "event",
                "type": kind,
                "created": int(time.time()),
                "api_version": "2025-01-01",
                "data": {"object": obj},
                "livemode": False,
            }
        ).encode()
        return body, self.sign(body)

    def sign(
        self, body: bytes, at: int | None = None, secret: str | None = None
    ) -> str:
        at = at or int(time.time())
        mac = hmac.new(
            (secret or self.webhook_secret).encode(),
            f"{at}.{body.decode()}".encode(),
            hashlib.sha256,
        )
        return f"t={at},v1={mac.hexdigest()}"
