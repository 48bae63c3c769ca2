"""Broadcast to 10,000 members and inbound webhooks over HTTP, with a Celery worker.

gunicorn and a Celery worker (prefork) run with Celery's broker on Redis
database 13, SMS_BACKEND=locmem (no provider, no webhook signature) and
SMS_RATE_PER_NUMBER=0 (no per-number throttle). A church registers over HTTP,
sets its sending number with `PATCH /api/tenant` and gets 10,000 members
(bulk-inserted by the bench). Then, per repeat, `POST /api/messages/send` to
all of them: the answer time, and from polling the tenant database every 50 ms
on a separate connection, the time until all outbox rows exist (`queued`),
until none is left `queued` and until all are `sent`, each from the start of
the request. Last, `POST /api/webhooks/sms/inbound` (form-encoded, From a
member, a new MessageSid each) from 1 and from 8 clients: plain messages, then,
once a survey was sent to everyone, its answers (a score, thanked by a reply).
"""

import itertools
import re
import time
import uuid
from typing import Any

from bench import harness, report
from bench.client import Client, expect, register
from bench.cycle import FIRST, phone
from bench.servers import CeleryWorker, Gunicorn, running

NUMBER = "+14155550000"
BROKER = f"{harness.REDIS}/13"
BODY = "Hi {first_name}, Sunday service is at 10am. Reply STOP to opt out."
PLAIN = "Thank you, see you on Sunday!"
MARKS = ["answer", "all rows exist", "first row taken", "none left queued",
         "first sent", "all sent"]  # fmt: skip
DISPATCHED = re.compile(r"dispatch_due_task\[[^\]]+\] succeeded in ([\d.]+)s: (\d+)")
CHECKS = {
    "rows `sent`": "SELECT count(*) FROM messaging_message WHERE status = 'sent'",
    "outbound rows per (broadcast, member) above one": "SELECT count(*) FROM "
    "(SELECT FROM messaging_message WHERE direction = 'outbound' "
    "GROUP BY broadcast_id, member_id HAVING count(*) > 1) d",
    "inbound rows stored": "SELECT count(*) FROM messaging_message "
    "WHERE direction = 'inbound'",
    "conversations": "SELECT count(*) FROM messaging_conversation",
}


def prepare(args: Any, client: Client) -> dict[str, Any]:
    """A church with its number and `--recipients` members."""
    email = "owner@bench-messaging.example.org"
    token = register(client, "Bench Messaging Church", email)[1]["access"]
    number = {"phone_number": NUMBER, "quiet_hours": None}
    expect(client.request("PATCH", "/api/tenant", number, token=token), 200, "PATCH")
    plan = client.post("/api/billing/subscribe", {"plan": "growth"}, token=token)
    expect(plan, 200, "subscribe")  # past the trial's 200 segments
    tenant = harness.active_tenants()[-1]
    phones = [phone(212, i) for i in range(args.recipients)]
    members = [
        {"first_name": FIRST[i % len(FIRST)], "last_name": f"M{i}", "phone": number}
        for i, number in enumerate(phones)
    ]
    harness.add_members(tenant, members)
    return {"token": token, "database": tenant.database_name, "phones": phones}


def broadcast(args: Any, client: Client, church: dict[str, Any], conn: Any) -> dict:
    """One send to everyone: when each mark was reached, from the request's start."""
    started = time.perf_counter()
    body = {"body": BODY, "recipients": {"all": True}}
    answer = client.post("/api/messages/send", body, token=church["token"], timeout=300)
    sent = expect(answer, 202, "send")
    marks = {"answer": answer.seconds}
    query = (
        "SELECT status, count(*) FROM messaging_message WHERE broadcast_id = %s "
        "GROUP BY status"
    )
    while "all sent" not in marks and time.perf_counter() - started < args.timeout:
        counts = dict(conn.execute(query, [sent["id"]]).fetchall())
        total, queued = sum(counts.values()), counts.get("queued", 0)
        done = counts.get("sent", 0)
        reached = {
            "all rows exist": total >= args.recipients,
            "first row taken": queued < total,
            "none left queued": total and not queued,
            "first sent": done > 0,
            "all sent": done >= args.recipients,
        }
        for mark, now in reached.items():
            if now and mark not in marks:
                marks[mark] = time.perf_counter() - started
        if set(counts) - {"queued", "sending", "sent"}:
            raise RuntimeError(f"unexpected statuses {counts}")
        time.sleep(0.05)
    print(f"  broadcast: {marks}", flush=True)
    return marks


def survey(client: Client, church: dict[str, Any], conn: Any, timeout: float) -> None:
    """A survey to everyone, its questions all `sent`: replies now are answers."""
    replies = {"promoter": "Thank you!", "passive": "Thanks.", "detractor": "Sorry."}
    body = {"name": "Bench NPS", "recipients": {"all": True}, "replies": replies}
    made = client.post("/api/surveys", body, token=church["token"])
    made = expect(made, 201, "survey")
    query = (
        "SELECT count(*) FROM messaging_message m JOIN messaging_survey s ON "
        "s.broadcast_id = m.broadcast_id WHERE s.id = %s AND m.status = 'sent'"
    )
    started = time.perf_counter()  # fmt: skip
    while conn.execute(query, [made["id"]]).fetchone()[0] < len(church["phones"]):
        if time.perf_counter() - started > timeout:
            raise RuntimeError("survey: not all sent")
        time.sleep(0.1)


def inbound(args: Any, client: Client, phones: list[str], text: str) -> list[dict]:
    numbers = itertools.count()  # next() is atomic

    def post() -> float:
        n = next(numbers)
        form = {
            "From": phones[n * 7919 % len(phones)],
            "To": NUMBER,
            "Body": text.format(n % 11),
            "MessageSid": f"SMbench{uuid.uuid4().hex}",
        }
        answer = client.post("/api/webhooks/sms/inbound", form=form)
        expect(answer, 200, "inbound")
        if b"<Response" not in answer.body:
            raise RuntimeError(f"inbound: not TwiML: {answer.body[:200]!r}")
        return answer.seconds

    for _ in range(3):  # warm-up
        post()
    latencies: dict[int, list[float]] = {1: [], args.clients: []}
    rates: dict[int, list[float]] = {1: [], args.clients: []}
    for _ in range(args.rounds):
        for clients, total in ((1, args.inbound_1), (args.clients, args.inbound_n)):
            took, wall = harness.timed(total, clients, post)
            latencies[clients] += took
            rates[clients].append(total / wall)
    return [
        {"clients": c, "requests": len(latencies[c]),
         "requests/s median": round(harness.median(rates[c])),
         "min": round(min(rates[c])), "max": round(max(rates[c]))}
        | harness.stats(latencies[c], "median p95", n=False)
        for c in latencies
    ]  # fmt: skip


def main() -> None:
    parser = harness.arguments(__doc__, "workers clients")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="broadcasts")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--inbound-1", type=int, default=200, help="per round")
    parser.add_argument("--inbound-n", type=int, default=600, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="inbound rounds")
    parser.add_argument("--timeout", type=float, default=600, help="per broadcast")
    args = parser.parse_args()
    env = {"CELERY_BROKER_URL": BROKER, "SMS_BACKEND": "locmem",
           "SMS_RATE_PER_NUMBER": "0"}  # fmt: skip
    with harness.run(harness.Setup("messaging", env, web=True)):
        server = Gunicorn(harness.service_env(), workers=args.workers)
        worker = CeleryWorker(harness.service_env(), args.celery_concurrency)
        broker_keys = harness.redis_keys(BROKER)
        try:
            with running(server, worker):
                client = Client(server.port)
                church = prepare(args, client)
                with harness.pg(church["database"]) as conn:
                    sends = [
                        broadcast(args, client, church, conn)
                        for _ in range(args.repeats)
                    ]
                    webhooks = inbound(args, client, church["phones"], PLAIN)
                    survey(client, church, conn, args.timeout)
                    answers = inbound(args, client, church["phones"], "{} !")
            with harness.pg(church["database"]) as conn:
                found = {k: conn.execute(q).fetchone()[0] for k, q in CHECKS.items()}
        finally:
            harness.delete_redis_keys(BROKER, keep=broker_keys)  # this run's only
    took = {mark: [m[mark] for m in sends if mark in m] for mark in MARKS}
    rows = {mark: harness.stats(v, "median min max", "s") for mark, v in took.items()}
    answer, exist, done = rows["answer"], rows["all rows exist"], rows["all sent"]
    left = rows["none left queued"]
    everyone = f"`POST /api/messages/send` to {args.recipients:,} recipients"
    results = {
        f"`POST /api/messages/send` to all {args.recipients} members": [
            {"from the start of the request": mark} | row for mark, row in rows.items()
        ],
        "sending": {
            "rate once started (first to last `sent`)_per_s": [
                round(args.recipients / (m["all sent"] - m["first sent"]))
                for m in sends
                if "all sent" in m
            ],
            "dispatch_due_task runs (worker log)": [
                f"{float(s):.2f}s ({n} ids)"
                for s, n in DISPATCHED.findall(worker.log())
            ],
        },
        "`POST /api/webhooks/sms/inbound`": webhooks,
        "`POST /api/webhooks/sms/inbound`, a survey's answers (`7 !`)": answers,
        "checks": found | {"rows expected `sent`": args.recipients * args.repeats},
    }
    targets = [
        report.target(f"{everyone}, answer", "<= 1 s",
            f"median {answer['median_s']} s (n={answer['n']}, max {answer['max_s']} s)",
            (answer["median_s"], "<=", 1)),
        report.target(f"{everyone}, all queued", "<= 5 s", "all outbox rows `queued` "
            f"(written in the request): median {exist['median_s']} s; none left "
            f"`queued` (taken by workers): median {left['median_s']} s; all `sent`: "
            f"median {done['median_s']} s", (exist["median_s"], "<=", 5)),
    ]  # fmt: skip
    ratios = [round(a["requests/s median"] / w["requests/s median"], 2)
              for a, w in zip(answers, webhooks, strict=True)]  # fmt: skip
    targets.append(report.target(
        "a survey's answer on the inbound webhook against a plain inbound message",
        "no slower by more than 10 %", f"requests/s ratio at 1 and {args.clients} "
        f"clients: {ratios}", *((r, ">=", 0.9) for r in ratios)))  # fmt: skip
    config = {"SMS_SEND_BATCH": "100 (default)", "broker": BROKER}
    report.save("messaging", args, results, targets, config=config)


if __name__ == "__main__":
    main()
