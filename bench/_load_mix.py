"""The request mix of bench/load.py: tenants, Zipf popularity, operations, records.

Every request is recorded as one `Row` (time since the run started, phase, op,
status, error code, seconds, tenant, exception). Status 0 means no HTTP answer
(connection refused or reset, timeout). An op's expected statuses are fixed;
anything else counts as a failure unless a scenario tolerates it.
"""

from __future__ import annotations

import bisect
import http.client
import itertools
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode

PASSWORD = "correct horse battery staple 42"

# op -> (weight, expected statuses)
OPS: dict[str, tuple[int, tuple[int, ...]]] = {
    "members.list": (15, (200,)),
    "members.search": (8, (200,)),
    "members.create": (10, (201,)),
    "members.update": (7, (200,)),
    "members.delete": (4, (204,)),
    "templates.list": (5, (200,)),
    "templates.create": (3, (201,)),
    "messages.send": (4, (202,)),
    "broadcasts.list": (3, (200,)),
    "messages.history": (3, (200,)),
    "webhook.inbound": (12, (200,)),
    "webhook.status": (4, (204,)),
    "conversations.list": (5, (200,)),
    "conversations.reply": (3, (201,)),
    "auth.login": (2, (200,)),
    "auth.refresh": (4, (200,)),
    "auth.me": (3, (200,)),
    "tenant.get": (2, (200,)),
}
EXPECTED = {op: statuses for op, (_, statuses) in OPS.items()}
INBOUND_BODIES = [
    "Thank you, see you on Sunday!",
    "What time does the choir practice start?",
    "Is there parking near the hall?",
    "Can I bring my neighbour to the picnic?",
    "Praying for you all this week.",
    "Running late, save me a seat",
]


class Row(NamedTuple):
    t: float
    phase: str
    op: str
    status: int
    code: str
    seconds: float
    tenant: int
    error: str


@dataclass
class TenantState:
    index: int
    id: str
    slug: str
    server: str  # "main" or "second"
    port: int
    database: str
    number: str
    email: str
    access: str
    refresh: str
    seeded: list[str]
    seeded_phones: list[str]
    members: deque = field(default_factory=deque)  # created by the load, free to use
    conversations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    token_lock: threading.Lock = field(default_factory=threading.Lock)


class Answer(NamedTuple):
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """One HTTP/1.1 request on a fresh connection (like bench/_http.Client)."""
    all_headers = {"Host": "127.0.0.1", "Accept": "application/json"}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    elif form is not None:
        body = urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if body is not None:
        all_headers["Content-Length"] = str(len(body))
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, data, time.perf_counter() - started)
    finally:
        conn.close()


def zipf_picker(n: int, s: float, seed: int) -> Callable[[random.Random], int]:
    """rng -> tenant index; popularity ranks are a fixed random permutation."""
    ranking = random.Random(seed).sample(range(n), n)
    cumulative, total = [], 0.0
    for rank in range(n):
        total += 1 / (rank + 1) ** s
        cumulative.append(total)

    def pick(rng: random.Random) -> int:
        return ranking[min(bisect.bisect(cumulative, rng.random() * total), n - 1)]

    return pick


class Recorder:
    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.rows: list[Row] = []  # list.append is atomic under the GIL

    def add(self, *values: Any) -> None:
        self.rows.append(Row(*values))

    def now(self) -> float:
        return time.monotonic() - self.t0


class Mix:
    """The operations, run from client threads over Zipf-picked tenants."""

    def __init__(
        self,
        *,
        port: int,
        public_base: str,
        twilio_token: str,
        tenants: list[TenantState],
        fake: Any,
        recorder: Recorder,
        zipf_s: float,
        seed: int,
    ) -> None:
        from twilio.request_validator import RequestValidator

        self.port = port
        self.public_base = public_base.rstrip("/")
        self.validator = RequestValidator(twilio_token)
        self.tenants = tenants
        self.by_number = {t.number: t for t in tenants}
        self.fake = fake
        self.recorder = recorder
        self.pick = zipf_picker(len(tenants), zipf_s, seed)
        self.seed = seed
        self.counter = itertools.count(1)
        self.counter_lock = threading.Lock()
        self.ops = list(OPS)
        self.weights = list(itertools.accumulate(w for w, _ in OPS.values()))
        # member creations answered 201: (tenant index, id, t); deletes answered
        # 204 or with an unknown outcome (no answer)
        self.created: list[tuple[int, str, float]] = []
        self.deleted: set[str] = set()
        self.delete_unknown: set[str] = set()
        self.senders: set[int] = set()  # tenants that queued outbound messages

    # --- plumbing -----------------------------------------------------------------

    def next_n(self) -> int:
        with self.counter_lock:
            return next(self.counter)

    def phone(self, n: int) -> str:
        """Numbers members get from the load: +1 312 3xx-xxxx upwards, never seeded."""
        return f"+1312{300 + n // 10_000:03d}{n % 10_000:04d}"

    def call(
        self,
        phase: str,
        op: str,
        tenant: TenantState,
        method: str,
        path: str,
        *,
        token: str | None = None,
        **kwargs: Any,
    ) -> Answer | None:
        """Send one request and record it; None when no HTTP answer came."""
        t = self.recorder.now()
        started = time.perf_counter()
        try:
            answer = request(self.port, method, path, token=token, **kwargs)
        except (OSError, http.client.HTTPException) as exc:
            self.recorder.add(
                t,
                phase,
                op,
                0,
                "",
                time.perf_counter() - started,
                tenant.index,
                type(exc).__name__,
            )
            return None
        code = ""
        if answer.status >= 400:
            try:
                code = str(answer.json().get("code", ""))
            except (ValueError, AttributeError):
                code = answer.body[:40].decode(errors="replace")
        self.recorder.add(
            t, phase, op, answer.status, code, answer.seconds, tenant.index, ""
        )
        if answer.status == 401 and token is not None:
            self.relogin(phase, tenant)
        return answer

    def ok(self, op: str, answer: Answer | None) -> bool:
        return answer is not None and answer.status in EXPECTED[op]

    # --- the loop -----------------------------------------------------------------

    def run(
        self,
        phase: str,
        *,
        clients: int,
        until: float,
        max_requests: int,
        stop: threading.Event,
        ops: set[str] | None = None,
    ) -> None:
        """Client threads until `until` (monotonic), `max_requests` or `stop`."""
        start_count = len(self.recorder.rows)
        ops_list = [op for op in self.ops if ops is None or op in ops]
        weights = list(itertools.accumulate(OPS[op][0] for op in ops_list))

        def work(i: int) -> None:
            rng = random.Random(f"{self.seed}-{phase}-{i}")
            while not stop.is_set() and time.monotonic() < until:
                if len(self.recorder.rows) - start_count >= max_requests:
                    return
                tenant = self.tenants[self.pick(rng)]
                op = ops_list[
                    bisect.bisect(weights, rng.random() * weights[-1])
                    if len(ops_list) > 1
                    else 0
                ]
                try:
                    getattr(self, "op_" + op.replace(".", "_"))(phase, tenant, rng)
                except Exception as exc:  # a harness bug: record, go on
                    self.recorder.add(
                        self.recorder.now(),
                        phase,
                        op,
                        -1,
                        "harness",
                        0.0,
                        tenant.index,
                        f"{type(exc).__name__}: {exc}"[:200],
                    )

        threads = [
            threading.Thread(target=work, args=(i,), name=f"{phase}-{i}", daemon=True)
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # --- auth ---------------------------------------------------------------------

    def relogin(self, phase: str, tenant: TenantState) -> None:
        """Fresh tokens after a lost or refused token (counted as a login)."""
        with tenant.token_lock:
            self._login(phase, tenant)

    def _login(self, phase: str, tenant: TenantState) -> None:
        answer = self.call(
            phase,
            "auth.login",
            tenant,
            "POST",
            "/api/auth/login",
            json_body={"email": tenant.email, "password": PASSWORD},
        )
        if self.ok("auth.login", answer):
            data = answer.json()
            tenant.access, tenant.refresh = data["access"], data["refresh"]

    def op_auth_login(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        with tenant.token_lock:
            self._login(phase, tenant)

    def op_auth_refresh(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        with tenant.token_lock:
            answer = self.call(
                phase,
                "auth.refresh",
                tenant,
                "POST",
                "/api/auth/refresh",
                json_body={"refresh": tenant.refresh},
            )
            if self.ok("auth.refresh", answer):
                data = answer.json()
                tenant.access, tenant.refresh = data["access"], data["refresh"]
            elif answer is None or answer.status in (401, 500, 502, 503):
                # The refresh token may be spent without our knowing: using it
                # again would end the session (replay detection). Log in anew.
                self._login(phase, tenant)

    def op_auth_me(self, phase: str, tenant: TenantState, rng: random.Random) -> None:
        self.call(phase, "auth.me", tenant, "GET", "/api/auth/me", token=tenant.access)

    def op_tenant_get(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        self.call(
            phase, "tenant.get", tenant, "GET", "/api/tenant", token=tenant.access
        )

    # --- members --------------------------------------------------------------------

    def op_members_list(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        self.call(
            phase,
            "members.list",
            tenant,
            "GET",
            "/api/members?page_size=20",
            token=tenant.access,
        )

    def op_members_search(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        term = rng.choice(["Anna", "Smith", "312", "Load", "example.org", "zzz"])
        self.call(
            phase,
            "members.search",
            tenant,
            "GET",
            f"/api/members?search={term}&page_size=20",
            token=tenant.access,
        )

    def op_members_create(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        n = self.next_n()
        answer = self.call(
            phase,
            "members.create",
            tenant,
            "POST",
            "/api/members",
            token=tenant.access,
            json_body={
                "first_name": rng.choice(["Anna", "Ben", "Carla", "David"]),
                "last_name": f"Load{n}",
                "phone": self.phone(n),
                "email": f"load{n}@example.org",
                "tags": ["load"],
            },
        )
        if self.ok("members.create", answer):
            member_id = answer.json()["id"]
            self.created.append((tenant.index, member_id, self.recorder.now()))
            with tenant.lock:
                tenant.members.append(member_id)

    def _take_member(self, tenant: TenantState) -> str | None:
        with tenant.lock:
            return tenant.members.popleft() if tenant.members else None

    def op_members_update(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        member_id = self._take_member(tenant)
        target = member_id or rng.choice(tenant.seeded)
        answer = self.call(
            phase,
            "members.update",
            tenant,
            "PATCH",
            f"/api/members/{target}",
            token=tenant.access,
            json_body={"notes": f"updated {self.next_n()}"},
        )
        if member_id is not None and answer is not None and answer.status != 404:
            with tenant.lock:
                tenant.members.append(member_id)

    def op_members_delete(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        member_id = self._take_member(tenant)
        if member_id is None:
            self.op_members_create(phase, tenant, rng)
            return
        answer = self.call(
            phase,
            "members.delete",
            tenant,
            "DELETE",
            f"/api/members/{member_id}",
            token=tenant.access,
        )
        if answer is None:
            self.delete_unknown.add(member_id)
        elif answer.status == 204:
            self.deleted.add(member_id)
        else:
            with tenant.lock:
                tenant.members.append(member_id)

    # --- templates --------------------------------------------------------------------

    def op_templates_list(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        self.call(
            phase,
            "templates.list",
            tenant,
            "GET",
            "/api/templates",
            token=tenant.access,
        )

    def op_templates_create(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        n = self.next_n()
        self.call(
            phase,
            "templates.create",
            tenant,
            "POST",
            "/api/templates",
            token=tenant.access,
            json_body={
                "name": f"Load template {n}",
                "body": "Hi {first_name}, {church_name} meets on Sunday at 10.",
                "category": "load",
            },
        )

    # --- messaging --------------------------------------------------------------------

    def op_messages_send(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        n = self.next_n()
        chosen = rng.sample(tenant.seeded, min(len(tenant.seeded), rng.randint(1, 3)))
        answer = self.call(
            phase,
            "messages.send",
            tenant,
            "POST",
            "/api/messages/send",
            token=tenant.access,
            json_body={
                "body": f"Hi {{first_name}}, service notes #{n}: choir at 9.",
                "recipients": {"members": chosen},
            },
        )
        if self.ok("messages.send", answer):
            self.senders.add(tenant.index)

    def op_broadcasts_list(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        self.call(
            phase,
            "broadcasts.list",
            tenant,
            "GET",
            "/api/messages/broadcasts",
            token=tenant.access,
        )

    def op_messages_history(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        self.call(
            phase,
            "messages.history",
            tenant,
            "GET",
            "/api/messages/history?page_size=20",
            token=tenant.access,
        )

    def _signed(self, path: str, params: dict[str, str]) -> dict[str, str]:
        url = self.public_base + path
        return {"X-Twilio-Signature": self.validator.compute_signature(url, params)}

    def op_webhook_inbound(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        if tenant.seeded_phones and rng.random() < 0.8:
            sender = rng.choice(tenant.seeded_phones)
        else:
            sender = f"+1646{200 + rng.randrange(700):03d}{rng.randrange(10_000):04d}"
        path = "/api/webhooks/sms/inbound"
        params = {
            "From": sender,
            "To": tenant.number,
            "Body": rng.choice(INBOUND_BODIES),
            "MessageSid": "SM" + uuid.uuid4().hex,
        }
        self.call(
            phase,
            "webhook.inbound",
            tenant,
            "POST",
            path,
            form=params,
            headers=self._signed(path, params),
        )

    def op_webhook_status(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        """A delivery receipt for a message the fake provider took recently."""
        with self.fake.lock:
            recent = self.fake.created[-200:]
        mine = [
            r
            for r in recent
            if r.get("status_callback") and r["from"] in self.by_number
        ]
        if not mine:
            self.op_webhook_inbound(phase, tenant, rng)
            return
        record = rng.choice(mine)
        owner = self.by_number[record["from"]]
        path = record["status_callback"][len(self.public_base) :]
        params = {
            "MessageSid": record["sid"],
            "MessageStatus": "delivered",
            "From": record["from"],
            "To": record["to"],
        }
        self.call(
            phase,
            "webhook.status",
            owner,
            "POST",
            path,
            form=params,
            headers=self._signed(path, params),
        )

    def op_conversations_list(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        answer = self.call(
            phase,
            "conversations.list",
            tenant,
            "GET",
            "/api/messages/conversations",
            token=tenant.access,
        )
        if self.ok("conversations.list", answer):
            ids = [c["id"] for c in answer.json().get("results", [])]
            with tenant.lock:
                tenant.conversations = ids[:20]

    def op_conversations_reply(
        self, phase: str, tenant: TenantState, rng: random.Random
    ) -> None:
        with tenant.lock:
            known = list(tenant.conversations)
        if not known:
            self.op_conversations_list(phase, tenant, rng)
            return
        answer = self.call(
            phase,
            "conversations.reply",
            tenant,
            "POST",
            f"/api/messages/conversations/{rng.choice(known)}/reply",
            token=tenant.access,
            json_body={"body": f"Thanks for your message! (reply {self.next_n()})"},
        )
        if self.ok("conversations.reply", answer):
            self.senders.add(tenant.index)
