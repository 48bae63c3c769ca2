"""The request mix of `bench.load`: operations over Zipf-picked tenants, recorded.

Every request is one `Row`. Status 0: no HTTP answer (refused, reset, timed
out); -1: the mix itself failed. Any status but the op's expected ones is a
failure unless a scenario tolerates it.
"""

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
from bench.cycle import FIRST, phone

# op -> (weight, expected statuses, path if the op is one authenticated GET)
OPS: dict[str, tuple[int, tuple[int, ...], str | None]] = {
    "members.list": (15, (200,), "/api/members?page_size=20"),
    "members.search": (8, (200,), None),
    "members.create": (10, (201,), None),
    "members.update": (7, (200,), None),
    "members.delete": (4, (204,), None),
    "templates.list": (5, (200,), "/api/templates"),
    "templates.create": (3, (201,), None),
    "messages.send": (4, (202,), None),
    "broadcasts.list": (3, (200,), "/api/messages/broadcasts"),
    "messages.history": (3, (200,), "/api/messages/history?page_size=20"),
    "webhook.inbound": (12, (200,), None),
    "webhook.status": (4, (204,), None),
    "conversations.list": (5, (200,), None),
    "conversations.reply": (3, (201,), None),
    "auth.login": (2, (200,), None),
    "auth.refresh": (4, (200,), None),
    "auth.me": (3, (200,), "/api/auth/me"),
    "tenant.get": (2, (200,), "/api/tenant"),
}
INBOUND_BODIES = [
    "Thank you, see you on Sunday!", "What time does the choir practice start?",
    "Is there parking near the hall?", "Can I bring my neighbour to the picnic?",
    "Praying for you all this week.", "Running late, save me a seat",
]  # fmt: skip


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
    token_lock: threading.RLock = field(default_factory=threading.RLock)

    def take_tokens(self, answer: Answer) -> None:
        tokens = answer.json()
        self.access, self.refresh = tokens["access"], tokens["refresh"]

    def take_member(self) -> str | None:
        with self.lock:
            return self.members.popleft() if self.members else None

    def give_back(self, member: str) -> None:
        with self.lock:
            self.members.append(member)


class Turn(NamedTuple):
    phase: str
    op: str
    church: Church
    rng: random.Random

    def ok(self, answer: Answer | None) -> bool:
        """Whether the answer came, with one of the op's expected statuses."""
        return answer is not None and answer.status in OPS[self.op][1]

    def row(self, t: float, status: int, code: str, seconds: float, error: str) -> Row:
        return Row(
            t, self.phase, self.op, status, code, seconds, self.church.index, error
        )


class Mix:
    def __init__(
        self, port: int, churches: list[Church], fake: Any, t0: float, args: Any
    ) -> None:
        from twilio.request_validator import RequestValidator

        self.client = Client(port)
        self.public = f"http://127.0.0.1:{port}"  # PUBLIC_BASE_URL: signed URLs
        self.validator = RequestValidator(fake.token)
        self.churches, self.fake, self.t0, self.args = churches, fake, t0, args
        self.by_number = {c.number: c for c in churches}
        self.pick = harness.zipf(len(churches), args.zipf_s, args.seed)
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

    def run(self, phase: str, until: float, stop: threading.Event) -> None:
        """`--clients` threads until `until` (monotonic), `stop` or `--max-requests`."""
        first, ops = len(self.rows), list(OPS)
        weights = list(itertools.accumulate(w for w, _, _ in OPS.values()))

        def work(i: int) -> None:
            rng = random.Random(f"{self.args.seed}-{phase}-{i}")
            while not stop.is_set() and time.monotonic() < until:
                if len(self.rows) - first >= self.args.max_requests:
                    return
                church = self.churches[self.pick(rng)]
                op = ops[bisect.bisect(weights, rng.random() * weights[-1])]
                turn = Turn(phase, op, church, rng)
                try:
                    if path := OPS[op][2]:
                        self.call(turn, "GET", path)
                    else:
                        getattr(self, op.replace(".", "_"))(turn)
                except Exception as exc:  # a bug of the mix: recorded, go on
                    error = f"{type(exc).__name__}: {exc}"[:200]
                    self.rows.append(turn.row(self.now(), -1, "mix", 0, error))

        harness.run_clients(self.args.clients, work)

    def call(
        self, turn: Turn, method: str, path: str, body: Any = None, auth=True, **kw: Any
    ) -> Answer | None:
        """One request, recorded; None when no HTTP answer came."""
        t, started, token = self.now(), time.perf_counter(), turn.church.access
        try:
            answer = self.client.request(
                method, path, body, token=token if auth else None, timeout=60, **kw
            )
        except NO_ANSWER as exc:
            took = time.perf_counter() - started
            self.rows.append(turn.row(t, 0, "", took, type(exc).__name__))
            return None
        code = ""
        if answer.status >= 400:
            try:
                code = str(answer.json().get("code", ""))
            except (ValueError, AttributeError):
                code = answer.body[:40].decode(errors="replace")
        self.rows.append(turn.row(t, answer.status, code, answer.seconds, ""))
        if answer.status == 401 and auth:
            self.auth_login(turn)  # a lost or refused token: log in anew
        return answer

    def auth_login(self, turn: Turn) -> None:
        turn, church = turn._replace(op="auth.login"), turn.church
        body = {"email": church.email, "password": harness.PASSWORD}
        with church.token_lock:  # reentrant: a refresh may log in anew
            answer = self.call(turn, "POST", "/api/auth/login", body, auth=False)
            if turn.ok(answer):
                church.take_tokens(answer)

    def auth_refresh(self, turn: Turn) -> None:
        church = turn.church
        with church.token_lock:
            body = {"refresh": church.refresh}
            answer = self.call(turn, "POST", "/api/auth/refresh", body, auth=False)
            if turn.ok(answer):
                church.take_tokens(answer)
            elif answer is None or answer.status in (401, 500, 502, 503):
                # The refresh token may be spent without our knowing: using it
                # again would end the session (replay detection). Log in anew.
                self.auth_login(turn)

    def members_search(self, turn: Turn) -> None:
        term = turn.rng.choice(["Anna", "Smith", "312", "Load", "example.org", "zzz"])
        self.call(turn, "GET", f"/api/members?search={term}&page_size=20")

    def members_create(self, turn: Turn) -> None:
        turn, n = turn._replace(op="members.create"), next(self.counter)
        body = {
            "first_name": turn.rng.choice(FIRST[:4]),
            "last_name": f"Load{n}",
            "email": f"load{n}@example.org",
            "phone": phone(312, n, exchange=300),  # never a seeded number
            "tags": ["load"],
        }
        answer = self.call(turn, "POST", "/api/members", body)
        if turn.ok(answer):
            member = answer.json()["id"]
            self.created.append((turn.church.index, member, self.now()))
            turn.church.give_back(member)

    def members_update(self, turn: Turn) -> None:
        member = turn.church.take_member()
        path = f"/api/members/{member or turn.rng.choice(turn.church.seeded)}"
        body = {"notes": f"updated {next(self.counter)}"}
        answer = self.call(turn, "PATCH", path, body)
        if member is not None and answer is not None and answer.status != 404:
            turn.church.give_back(member)

    def members_delete(self, turn: Turn) -> None:
        if (member := turn.church.take_member()) is None:
            return self.members_create(turn)
        answer = self.call(turn, "DELETE", f"/api/members/{member}")
        if answer is None:
            self.delete_unknown.add(member)
        elif answer.status == 204:
            self.deleted.add(member)
        else:
            turn.church.give_back(member)
        return None

    def templates_create(self, turn: Turn) -> None:
        body = {
            "name": f"Load template {next(self.counter)}",
            "category": "load",
            "body": "Hi {first_name}, {church_name} meets on Sunday at 10.",
        }
        self.call(turn, "POST", "/api/templates", body)

    def messages_send(self, turn: Turn) -> None:
        seeded, rng = turn.church.seeded, turn.rng
        chosen = rng.sample(seeded, min(len(seeded), rng.randint(1, 3)))
        text = f"Hi {{first_name}}, service notes #{next(self.counter)}: choir at 9."
        body = {"body": text, "recipients": {"members": chosen}}
        if turn.ok(self.call(turn, "POST", "/api/messages/send", body)):
            self.senders.add(turn.church.index)

    def signed(self, turn: Turn, path: str, form: dict[str, str]) -> None:
        """A webhook, signed like Twilio's."""
        signature = self.validator.compute_signature(self.public + path, form)
        headers = {"X-Twilio-Signature": signature}
        self.call(turn, "POST", path, form=form, headers=headers, auth=False)

    def webhook_inbound(self, turn: Turn) -> None:
        turn, rng = turn._replace(op="webhook.inbound"), turn.rng
        sender = f"+1646{200 + rng.randrange(700):03d}{rng.randrange(10_000):04d}"
        if turn.church.phones and rng.random() < 0.8:
            sender = rng.choice(turn.church.phones)  # mostly a member
        body, sid = rng.choice(INBOUND_BODIES), "SM" + uuid.uuid4().hex
        form = {"From": sender, "To": turn.church.number, "Body": body,
                "MessageSid": sid}  # fmt: skip
        self.signed(turn, "/api/webhooks/sms/inbound", form)

    def webhook_status(self, turn: Turn) -> None:
        """A delivery receipt for a message the fake provider took recently."""
        with self.fake.lock:
            recent = self.fake.created[-200:]
        mine = [r for r in recent if r.get("status_callback")]
        mine = [r for r in mine if r["from"] in self.by_number]
        if not mine:
            return self.webhook_inbound(turn)
        sms = turn.rng.choice(mine)
        form = {"MessageSid": sms["sid"], "MessageStatus": "delivered",
                "From": sms["from"], "To": sms["to"]}  # fmt: skip
        path = sms["status_callback"].removeprefix(self.public)
        # signed by, and recorded for, the church that sent it
        self.signed(turn._replace(church=self.by_number[sms["from"]]), path, form)
        return None

    def conversations_list(self, turn: Turn) -> None:
        turn = turn._replace(op="conversations.list")
        answer = self.call(turn, "GET", "/api/messages/conversations")
        if turn.ok(answer):
            ids = [c["id"] for c in answer.json()["results"][:20]]
            with turn.church.lock:
                turn.church.conversations = ids

    def conversations_reply(self, turn: Turn) -> None:
        with turn.church.lock:
            known = list(turn.church.conversations)
        if not known:
            return self.conversations_list(turn)
        path = f"/api/messages/conversations/{turn.rng.choice(known)}/reply"
        body = {"body": f"Thanks for your message! (reply {next(self.counter)})"}
        if turn.ok(self.call(turn, "POST", path, body)):
            self.senders.add(turn.church.index)
        return None
