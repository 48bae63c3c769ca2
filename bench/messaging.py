"""Broadcast to 10,000 members and inbound webhooks over HTTP, with a Celery worker.

    .venv/bin/python bench/messaging.py [--recipients 10000] [--repeats 3]

Starts `gunicorn config.wsgi -w 2` and `celery -A config worker` (prefork, 2
processes) with the bench's own registry, tenant prefix and Redis cache prefix,
Celery's broker on Redis database 13, SMS_BACKEND=locmem (no provider, no
webhook signature) and SMS_RATE_PER_NUMBER=0 (no per-number throttle).
A church registers over HTTP, sets its sending number with `PATCH /api/tenant`
and gets 10,000 members (bulk-inserted in this process). Then, per repeat,
`POST /api/messages/send` to all of them: the answer time, and from a separate
superuser connection to the tenant database, the time until all outbox rows
exist (`queued`), until none is left `queued` and until all are `sent`. Last,
`POST /api/webhooks/sms/inbound` from 1 and from 8 clients.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _http  # noqa: E402
import _report  # noqa: E402

PASSWORD = "correct horse battery staple 42"
CHURCH_NUMBER = "+14155550000"
BROKER_DB = 13
BODY = "Hi {first_name}, Sunday service is at 10am. Reply STOP to opt out."
DISPATCHED = re.compile(
    r"Task messaging\.tasks\.dispatch_due_task\[[^\]]+\] succeeded in "
    r"([\d.]+)s: (\d+)"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="broadcasts")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--inbound-1", type=int, default=200, help="per round")
    parser.add_argument("--inbound-n", type=int, default=600, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="inbound rounds")
    parser.add_argument("--timeout", type=float, default=600, help="per broadcast")
    parser.add_argument("--registry", default="churchtext_bench_messaging")
    parser.add_argument("--prefix", default="bench_msg_")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.recipients > 100_000:
        parser.error("--recipients: at most 100,000")
    return args


def main() -> None:
    args = parse_args()
    args.code = _http.code_version()  # the tree changes under us: note what ran
    env = _http.bench_env(
        "messaging",
        CELERY_BROKER_URL=f"redis://{_http.REDIS_HOST}:{_http.REDIS_PORT}/{BROKER_DB}",
        SMS_BACKEND="locmem",
        SMS_RATE_PER_NUMBER="0",
        TENANT_POOL_MAX_SIZE="2",
    )
    setup = _harness.Setup(registry=args.registry, prefix=args.prefix, extra_env=env)
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    broker_keys_before = _http.key_names(BROKER_DB)
    worker_log = ""
    try:
        with _harness.benchmark_run(setup):
            server = _http.Gunicorn(_http.service_env(), workers=args.workers)
            worker = _http.CeleryWorker(
                _http.service_env(), concurrency=args.celery_concurrency
            )
            with _http.running(server), _http.running(worker):
                client = _http.Client(server.port)
                church = prepare(args, client)
                broadcasts = run_broadcasts(args, client, church)
                worker_log = worker.log_path.read_text(errors="replace")
                inbound = run_inbound(args, client, church)
            checks = final_checks(church, broadcasts, inbound)
    finally:
        removed = _http.delete_keys(14, _http.cache_pattern(env))
        new_keys = _http.key_names(BROKER_DB) - broker_keys_before
        if new_keys:
            broker = _http.redis(BROKER_DB)
            broker.delete(*new_keys)
            broker.close()
        print(
            f"removed {removed} Redis cache keys and {len(new_keys)} broker keys "
            f"this run created ({sorted(k.decode() for k in new_keys)[:6]})"
        )
    dispatch = [(float(s), int(n)) for s, n in DISPATCHED.findall(worker_log)]
    report(args, setup, env, pg_version, broadcasts, inbound, checks, dispatch)


# --- setup ------------------------------------------------------------------------


def prepare(args: argparse.Namespace, client: _http.Client) -> dict[str, Any]:
    from django.db import connections as django_connections

    from members.models import Member
    from tenants import connections
    from tenants.context import tenant_context
    from tenants.models import Tenant

    answer = client.post(
        "/api/auth/register",
        json_body={
            "organization_name": "Bench Messaging Church",
            "email": "owner@bench-messaging.example.org",
            "password": PASSWORD,
        },
    )
    church = _http.expect(answer, 201, "register").json()
    token = church["access"]
    patch = client.request(
        "PATCH",
        "/api/tenant",
        json_body={"phone_number": CHURCH_NUMBER, "quiet_hours": None},
        token=token,
    )
    _http.expect(patch, 200, "PATCH /api/tenant")
    tenant = Tenant.objects.select_related("server").get(pk=church["tenant"]["id"])
    phones = [
        f"+1212{200 + i // 10_000:03d}{i % 10_000:04d}" for i in range(args.recipients)
    ]
    names = ["Anna", "Ben", "Carla", "David", "Esther", "Felix", "Grace", "Hugo"]
    started = time.perf_counter()
    with tenant_context(tenant):
        Member.objects.bulk_create(
            [
                Member(first_name=names[i % len(names)], last_name=f"M{i}", phone=p)
                for i, p in enumerate(phones)
            ],
            batch_size=5000,
        )
    connections.forget(tenant.alias)
    django_connections.close_all()
    print(
        f"church {tenant.slug}: number {CHURCH_NUMBER}, {args.recipients} members "
        f"inserted in {time.perf_counter() - started:.1f}s"
    )
    return {"token": token, "tenant": tenant, "phones": phones}


def tenant_conn(tenant: Any) -> Any:
    """A superuser connection to the tenant database, apart from the app's."""
    import psycopg

    return psycopg.connect(
        **_harness.PG, dbname=tenant.database_name, autocommit=True, connect_timeout=5
    )


# --- broadcasts -------------------------------------------------------------------


def run_broadcasts(
    args: argparse.Namespace, client: _http.Client, church: dict[str, Any]
) -> list[dict[str, Any]]:
    results = []
    with tenant_conn(church["tenant"]) as conn:
        for i in range(args.repeats):
            results.append(one_broadcast(args, client, church, conn, i))
    return results


def one_broadcast(
    args: argparse.Namespace,
    client: _http.Client,
    church: dict[str, Any],
    conn: Any,
    index: int,
) -> dict[str, Any]:
    started = time.perf_counter()
    answer = client.post(
        "/api/messages/send",
        json_body={"body": BODY, "recipients": {"all": True}},
        token=church["token"],
        timeout=300,
    )
    _http.expect(answer, 202, f"send #{index}")
    data = answer.json()
    if data["recipient_count"] != args.recipients:
        raise RuntimeError(f"send #{index}: {data}")
    marks: dict[str, float] = {"answer": answer.seconds}
    query = (
        "SELECT status, count(*) FROM messaging_message WHERE broadcast_id = %s "
        "GROUP BY status"
    )
    counts: dict[str, int] = {}
    while True:
        now = time.perf_counter() - started
        counts = dict(conn.execute(query, [data["id"]]).fetchall())
        total = sum(counts.values())
        if "all rows exist" not in marks and total >= args.recipients:
            marks["all rows exist"] = now
        if "first row taken" not in marks and counts.get("queued", 0) < total:
            marks["first row taken"] = now
        if total and "none left queued" not in marks and not counts.get("queued"):
            marks["none left queued"] = now
        if "first sent" not in marks and counts.get("sent"):
            marks["first sent"] = now
        if counts.get("sent", 0) >= args.recipients:
            marks["all sent"] = now
            break
        if set(counts) - {"queued", "sending", "sent"}:
            raise RuntimeError(f"broadcast #{index}: unexpected statuses {counts}")
        if now > args.timeout:
            marks["timeout"] = now
            break
        time.sleep(0.05)
    line = ", ".join(f"{k} {v:.2f}s" for k, v in marks.items())
    print(f"  broadcast #{index + 1}: {line}; final {counts}", flush=True)
    return {"marks": marks, "counts": counts, "answer": data}


# --- inbound ----------------------------------------------------------------------


def run_inbound(
    args: argparse.Namespace, client: _http.Client, church: dict[str, Any]
) -> dict[str, Any]:
    phones = church["phones"]
    lock = threading.Lock()
    sent = [0]

    def post(i: int) -> float:
        sid = f"SMbench{uuid.uuid4().hex}"
        answer = client.post(
            "/api/webhooks/sms/inbound",
            form={
                "From": phones[(i * 7919) % len(phones)],
                "To": CHURCH_NUMBER,
                "Body": "Thank you, see you on Sunday!",
                "MessageSid": sid,
            },
        )
        _http.expect(answer, 200, "inbound")
        if b"<Response" not in answer.body:
            raise RuntimeError(f"inbound: not TwiML: {answer.body[:200]!r}")
        with lock:
            sent[0] += 1
        return answer.seconds

    results: dict[int, dict[str, list[float]]] = {
        1: {"latency": [], "rate": []},
        args.clients: {"latency": [], "rate": []},
    }
    counter = [0]

    def next_index() -> int:
        with lock:
            counter[0] += 1
            return counter[0]

    for _ in range(3):  # warm-up
        post(next_index())
    for round_ in range(args.rounds):
        for clients, total in ((1, args.inbound_1), (args.clients, args.inbound_n)):
            shares = [total // clients + (i < total % clients) for i in range(clients)]
            latencies: list[float] = []

            def work(i: int, shares=shares, latencies=latencies) -> None:
                mine = [post(next_index()) for _ in range(shares[i])]
                with lock:
                    latencies.extend(mine)

            wall = _http.run_clients(clients, work)
            results[clients]["latency"].extend(latencies)
            results[clients]["rate"].append(total / wall)
            print(
                f"  inbound round {round_ + 1}, {clients} client(s): "
                f"{total / wall:.0f} requests/s, median "
                f"{_harness.ms(_harness.Stats.of(latencies).median)}",
                flush=True,
            )
    return {"results": results, "posted": sent[0]}


def final_checks(
    church: dict[str, Any], broadcasts: list[dict[str, Any]], inbound: dict[str, Any]
) -> list[str]:
    with tenant_conn(church["tenant"]) as conn:
        inbound_rows = conn.execute(
            "SELECT count(*) FROM messaging_message WHERE direction = 'inbound'"
        ).fetchone()[0]
        duplicates = conn.execute(
            "SELECT count(*) FROM (SELECT broadcast_id, member_id FROM "
            "messaging_message WHERE direction = 'outbound' GROUP BY 1, 2 "
            "HAVING count(*) > 1) d"
        ).fetchone()[0]
        conversations = conn.execute(
            "SELECT count(*) FROM messaging_conversation"
        ).fetchone()[0]
    all_sent = all(
        b["counts"].get("sent", 0) == b["answer"]["recipient_count"] for b in broadcasts
    )
    return [
        f"every broadcast ended with all {broadcasts[0]['answer']['recipient_count']}"
        f" rows `sent`: {'yes' if all_sent else 'NO'}; outbound rows per "
        f"(broadcast, member) above one: {duplicates}",
        f"inbound webhooks answered 200 with TwiML: {inbound['posted']}; inbound "
        f"rows stored: {inbound_rows}; conversations: {conversations}",
    ]


# --- report -------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    env: dict[str, str],
    pg_version: str,
    broadcasts: list[dict[str, Any]],
    inbound: dict[str, Any],
    checks: list[str],
    dispatch: list[tuple[float, int]],
) -> None:
    keys = [
        "answer",
        "all rows exist",
        "first row taken",
        "none left queued",
        "first sent",
        "all sent",
    ]
    rows = []
    for key in keys:
        values = [b["marks"][key] for b in broadcasts if key in b["marks"]]
        if not values:
            rows.append([key, "-", "-", "-", "-"])
            continue
        s = _harness.Stats.of(values)
        rows.append(
            [
                key,
                len(values),
                f"{s.median:.2f} s",
                f"{s.min:.2f} s",
                f"{s.max:.2f} s",
            ]
        )
    rates = [
        args.recipients / (b["marks"]["all sent"] - b["marks"]["first sent"])
        for b in broadcasts
        if "all sent" in b["marks"]
    ]
    send_table = _report.table(
        ["from the start of the request", "n", "median", "min", "max"], rows
    )
    inbound_rows = []
    for clients, data in inbound["results"].items():
        lat = _harness.Stats.of(data["latency"])
        rate = _harness.Stats.of(data["rate"])
        inbound_rows.append(
            [
                clients,
                len(data["latency"]),
                f"{rate.median:.0f} ({rate.min:.0f}-{rate.max:.0f})",
                _harness.ms(lat.median),
                _harness.ms(lat.p95),
            ]
        )
    inbound_table = _report.table(
        ["clients", "requests", "requests/s median (min-max)", "median", "p95"],
        inbound_rows,
    )
    answer = _harness.Stats.of([b["marks"]["answer"] for b in broadcasts])
    exist = _harness.Stats.of(
        [b["marks"].get("all rows exist", float("inf")) for b in broadcasts]
    )
    left = [b["marks"].get("none left queued", float("inf")) for b in broadcasts]
    all_sent = [b["marks"].get("all sent", float("inf")) for b in broadcasts]
    dispatch_text = (
        ", ".join(f"{s:.2f}s ({n} ids)" for s, n in dispatch) if dispatch else "-"
    )
    body = "\n".join(
        [
            f"`POST /api/messages/send` with `recipients: {{all: true}}` to "
            f"{args.recipients:,} members, body `{BODY}`; times measured from the "
            "start of the request by the client (answer) and by polling the "
            "tenant database every 50 ms from a separate connection (the rest):",
            "",
            send_table,
            "",
            "Sending rate once started (first to last `sent`): "
            + ", ".join(f"{r:.0f}/s" for r in rates)
            + f" with {args.celery_concurrency} Celery processes. "
            f"`dispatch_due_task` (queues the `send_messages_task` batches of "
            f"SMS_SEND_BATCH=100) ran in: {dispatch_text} (worker log).",
            "",
            "`POST /api/webhooks/sms/inbound` (form-encoded, To = the church "
            "number, From = a member, a new MessageSid each), "
            f"{args.rounds} rounds:",
            "",
            inbound_table,
            "",
            "Checks:",
            "",
            *(f"- {line}" for line in checks),
        ]
    )
    print()
    print(send_table)
    print()
    print(inbound_table)
    print(*checks, sep="\n")
    med_left = _harness.Stats.of(left).median
    verdicts = [
        _report.Verdict(
            target=f"`POST /api/messages/send` to {args.recipients:,} recipients, "
            "answer",
            spec="<= 1 s",
            measured=f"median {answer.median:.2f} s (n={answer.n}, max "
            f"{answer.max:.2f} s)",
            verdict="met" if answer.median <= 1 else "not met",
        ),
        _report.Verdict(
            target=f"`POST /api/messages/send` to {args.recipients:,} recipients, "
            "all queued",
            spec="<= 5 s",
            measured=(
                f"all outbox rows `queued` (written in the request): median "
                f"{exist.median:.2f} s; none left `queued` (taken by workers): "
                f"median {med_left:.1f} s; all `sent`: median "
                f"{_harness.Stats.of(all_sent).median:.1f} s"
            ),
            verdict="met" if exist.median <= 5 else "not met",
        ),
    ]
    config = [
        f"code: {args.code}",
        f"`gunicorn config.wsgi -w {args.workers}` and `celery -A config worker "
        f"--concurrency {args.celery_concurrency} --pool prefork`, started and "
        "stopped by the script; no beat",
        f"registry `{setup.registry}`, tenant prefix `{setup.prefix}`, one "
        f"PostgreSQL server; Redis cache `{env['REDIS_URL']}` prefix "
        f"`{env['CACHE_KEY_PREFIX']}`, broker `{env['CELERY_BROKER_URL']}` (keys "
        "this run created deleted afterwards)",
        "SMS_BACKEND=locmem (a list in the worker's memory; no signature check on "
        "webhooks), SMS_RATE_PER_NUMBER=0, SMS_SEND_BATCH=100 (default), "
        "DEBUG=false, RATE_LIMITS=off",
        f"church number {CHURCH_NUMBER} set with `PATCH /api/tenant` "
        '(`"quiet_hours": null`); members bulk-inserted in the bench process',
        f"{args.repeats} broadcasts in a row, each waited for until all sent",
    ]
    if not args.no_report:
        _report.write_section(
            "messaging",
            title="Broadcast to 10,000 and inbound webhooks (`bench/messaging.py`)",
            pg_version=pg_version,
            config=config,
            body=body,
            verdicts=verdicts,
        )
        print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


if __name__ == "__main__":
    main()
