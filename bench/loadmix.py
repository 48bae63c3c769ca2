"""The request mix of `bench.load`: operations over Zipf-picked tenants, recorded.

Every request is one `Row` (seconds since the load started, phase, op, status,
error code, seconds, tenant index, exception). Status 0: no HTTP answer
(refused, reset, timed out); -1: the mix itself failed. An op's expected
statuses are fixed; any other answer counts as a failure unless a scenario
tolerates it.
"""

from __future__ import annotations

import bisect
import itertools
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bench import harness
from bench.client import NO_ANSWER, Answer, Client

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
READS = {  # ops that are one authenticated GET
    "members.list": "/api/members?page_size=20",
    "templates.list": "/api/templates",
    "broadcasts.list": "/api/messages/broadcasts",
    "messages.history": "/api/messages/history?page_size=20",
    "auth.me": "/api/auth/me",
    "tenant.get": "/api/tenant",
}
INBOUND_BODIES = [
    "Thank you, see you on Sunday!",
    "What time does the choir practice start?",
    "Is there parking near the hall?",
    "Can I bring my neighbour to the picnic?",
    "Praying for you all this week.",
    "Running late, save me a seat",
]


Rng = random.Random


class Row(NamedTuple):
    t: float
    phase: str
    op: str
    status: int
    code: str
    seconds: float
    tenant: int
    error: str


def failed(row: Row) -> bool:
    return row.status not in OPS[row.op][1]


def ok(op: str, answer: Answer | None) -> bool:
    return answer is not None and answer.status in OPS[op][1]


def unavailable(row: Row) -> bool:
    return row.status == 503 and row.code == "tenant_unavailable"


@dataclass
class Church:
    """One tenant as the clients know it."""

    index: int
    server: str  # "main" or "second"
    port: int
    database: str
    number: str
    email: str
    access: str
    refresh: str
    seeded: list[str]  # member ids
    phones: list[str]  # their numbers
    members: deque = field(default_factory=deque)  # created by the load
    conversations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    token_lock: threading.Lock = field(default_factory=threading.Lock)


class Mix:
    """The operations, from client threads, over Zipf-picked churches."""

    # fmt: off
    def __init__(self, port: int, churches: list[Church], fake: Any, t0: float,
                 zipf_s: float, seed: int) -> None:
        # fmt: on
        from twilio.request_validator import RequestValidator

        self.client = Client(port)
        self.public = f"http://127.0.0.1:{port}"  # PUBLIC_BASE_URL: signed URLs
        self.validator = RequestValidator(fake.token)
        self.churches, self.fake, self.t0, self.seed = churches, fake, t0, seed
        self.by_number = {c.number: c for c in churches}
        self.pick = harness.zipf(len(churches), zipf_s, seed)
        self.counter = itertools.count(1)  # next() is atomic
        self.rows: list[Row] = []  # list.append is atomic
        # members answered 201: (church index, id, t); deletes answered 204, or
        # with no answer (outcome unknown); churches that queued messages
        self.created: list[tuple[int, str, float]] = []
        self.deleted: set[str] = set()
        self.delete_unknown: set[str] = set()
        self.senders: set[int] = set()

    def now(self) -> float:
        return time.monotonic() - self.t0

    # fmt: off
    def run(self, phase: str, clients: int, until: float, max_requests: int,
            stop: threading.Event) -> None:
        # fmt: on
        """Client threads until `until` (monotonic), `max_requests` or `stop`."""
        first = len(self.rows)
        ops = list(OPS)
        weights = list(itertools.accumulate(w for w, _ in OPS.values()))

        def work(i: int) -> None:
            rng = random.Random(f"{self.seed}-{phase}-{i}")
            while not stop.is_set() and time.monotonic() < until:
                if len(self.rows) - first >= max_requests:
                    return
                church = self.churches[self.pick(rng)]
                op = ops[bisect.bisect(weights, rng.random() * weights[-1])]
                try:
                    if op in READS:
                        self.call(phase, op, church, "GET", READS[op], auth=True)
                    else:
                        getattr(self, op.replace(".", "_"))(phase, church, rng)
                except Exception as exc:  # a bug of the mix: recorded, go on
                    error = f"{type(exc).__name__}: {exc}"[:200]
                    row = Row(self.now(), phase, op, -1, "mix", 0, church.index, error)
                    self.rows.append(row)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # fmt: off
    def call(self, phase: str, op: str, church: Church, method: str, path: str,
             body: Any = None, auth: bool = False, **kwargs: Any) -> Answer | None:
        # fmt: on
        """One request, recorded; None when no HTTP answer came."""
        t, started = self.now(), time.perf_counter()
        kwargs.setdefault("timeout", 60)
        token = church.access if auth else None
        try:
            answer = self.client.request(method, path, body, token=token, **kwargs)
        except NO_ANSWER as exc:
            took, error = time.perf_counter() - started, type(exc).__name__
            self.rows.append(Row(t, phase, op, 0, "", took, church.index, error))
            return None
        code = ""
        if answer.status >= 400:
            try:
                code = str(answer.json().get("code", ""))
            except (ValueError, AttributeError):
                code = answer.body[:40].decode(errors="replace")
        self.rows.append(
            Row(t, phase, op, answer.status, code, answer.seconds, church.index, "")
        )
        if answer.status == 401 and auth:
            with church.token_lock:
                self.login(phase, church)  # a lost or refused token: log in anew
        return answer

    # --- auth ---------------------------------------------------------------------

    def login(self, phase: str, church: Church) -> None:
        body = {"email": church.email, "password": harness.PASSWORD}
        answer = self.call(phase, "auth.login", church, "POST", "/api/auth/login", body)
        if ok("auth.login", answer):
            church.access, church.refresh = (
                answer.json()["access"],
                answer.json()["refresh"],
            )

    def auth_login(self, phase: str, church: Church, rng: Rng) -> None:
        with church.token_lock:
            self.login(phase, church)

    def auth_refresh(self, phase: str, church: Church, rng: Rng) -> None:
        with church.token_lock:
            body = {"refresh": church.refresh}
            answer = self.call(
                phase, "auth.refresh", church, "POST", "/api/auth/refresh", body
            )
            if ok("auth.refresh", answer):
                church.access, church.refresh = (
                    answer.json()["access"],
                    answer.json()["refresh"],
                )
            elif answer is None or answer.status in (401, 500, 502, 503):
                # The refresh token may be spent without our knowing: using it
                # again would end the session (replay detection). Log in anew.
                self.login(phase, church)

    # --- members --------------------------------------------------------------------

    def members_search(self, phase: str, church: Church, rng: Rng) -> None:
        term = rng.choice(["Anna", "Smith", "312", "Load", "example.org", "zzz"])
        path = f"/api/members?search={term}&page_size=20"
        self.call(phase, "members.search", church, "GET", path, auth=True)

    def members_create(self, phase: str, church: Church, rng: Rng) -> None:
        n = next(self.counter)
        body = {
            "first_name": rng.choice(["Anna", "Ben", "Carla", "David"]),
            "last_name": f"Load{n}",
            "email": f"load{n}@example.org",
            "phone": f"+1312{300 + n // 10_000:03d}{n % 10_000:04d}",  # not seeded
            "tags": ["load"],
        }
        answer = self.call(
            phase, "members.create", church, "POST", "/api/members", body, auth=True
        )
        if ok("members.create", answer):
            member = answer.json()["id"]
            self.created.append((church.index, member, self.now()))
            with church.lock:
                church.members.append(member)

    def take_member(self, church: Church) -> str | None:
        with church.lock:
            return church.members.popleft() if church.members else None

    def members_update(self, phase: str, church: Church, rng: Rng) -> None:
        member = self.take_member(church)
        path = f"/api/members/{member or rng.choice(church.seeded)}"
        body = {"notes": f"updated {next(self.counter)}"}
        answer = self.call(
            phase, "members.update", church, "PATCH", path, body, auth=True
        )
        if member is not None and answer is not None and answer.status != 404:
            with church.lock:
                church.members.append(member)

    def members_delete(self, phase: str, church: Church, rng: Rng) -> None:
        member = self.take_member(church)
        if member is None:
            return self.members_create(phase, church, rng)
        path = f"/api/members/{member}"
        answer = self.call(phase, "members.delete", church, "DELETE", path, auth=True)
        if answer is None:
            self.delete_unknown.add(member)
        elif answer.status == 204:
            self.deleted.add(member)
        else:
            with church.lock:
                church.members.append(member)
        return None

    # --- templates and messages -------------------------------------------------------

    def templates_create(self, phase: str, church: Church, rng: Rng) -> None:
        body = {
            "name": f"Load template {next(self.counter)}",
            "category": "load",
            "body": "Hi {first_name}, {church_name} meets on Sunday at 10.",
        }
        self.call(
            phase, "templates.create", church, "POST", "/api/templates", body, auth=True
        )

    def messages_send(self, phase: str, church: Church, rng: Rng) -> None:
        chosen = rng.sample(church.seeded, min(len(church.seeded), rng.randint(1, 3)))
        text = f"Hi {{first_name}}, service notes #{next(self.counter)}: choir at 9."
        body = {"body": text, "recipients": {"members": chosen}}
        answer = self.call(
            phase,
            "messages.send",
            church,
            "POST",
            "/api/messages/send",
            body,
            auth=True,
        )
        if ok("messages.send", answer):
            self.senders.add(church.index)

    def signed(
        self, phase: str, op: str, church: Church, path: str, form: dict
    ) -> None:
        """A webhook, signed like Twilio's."""
        signature = self.validator.compute_signature(self.public + path, form)
        headers = {"X-Twilio-Signature": signature}
        self.call(phase, op, church, "POST", path, form=form, headers=headers)

    def webhook_inbound(self, phase: str, church: Church, rng: Rng) -> None:
        sender = f"+1646{200 + rng.randrange(700):03d}{rng.randrange(10_000):04d}"
        if church.phones and rng.random() < 0.8:
            sender = rng.choice(church.phones)  # mostly a member
        form = {
            "From": sender,
            "To": church.number,
            "Body": rng.choice(INBOUND_BODIES),
            "MessageSid": "SM" + uuid.uuid4().hex,
        }
        self.signed(phase, "webhook.inbound", church, "/api/webhooks/sms/inbound", form)

    def webhook_status(self, phase: str, church: Church, rng: Rng) -> None:
        """A delivery receipt for a message the fake provider took recently."""
        with self.fake.lock:
            recent = self.fake.created[-200:]
        mine = [
            r
            for r in recent
            if r.get("status_callback") and r["from"] in self.by_number
        ]
        if not mine:
            return self.webhook_inbound(phase, church, rng)
        sms = rng.choice(mine)
        form = {
            "MessageSid": sms["sid"],
            "MessageStatus": "delivered",
            "From": sms["from"],
            "To": sms["to"],
        }
        path = sms["status_callback"].removeprefix(self.public)
        self.signed(phase, "webhook.status", self.by_number[sms["from"]], path, form)
        return None

    def conversations_list(self, phase: str, church: Church, rng: Rng) -> None:
        path = "/api/messages/conversations"
        answer = self.call(phase, "conversations.list", church, "GET", path, auth=True)
        if ok("conversations.list", answer):
            with church.lock:
                church.conversations = [c["id"] for c in answer.json()["results"][:20]]

    def conversations_reply(self, phase: str, church: Church, rng: Rng) -> None:
        with church.lock:
            known = list(church.conversations)
        if not known:
            return self.conversations_list(phase, church, rng)
        path = f"/api/messages/conversations/{rng.choice(known)}/reply"
        body = {"body": f"Thanks for your message! (reply {next(self.counter)})"}
        answer = self.call(
            phase, "conversations.reply", church, "POST", path, body, auth=True
        )
        if ok("conversations.reply", answer):
            self.senders.add(church.index)
        return None
