"""Listing a page of history and conversations for a church with 1,000,000 messages.

    .venv/bin/python bench/history.py [--messages 1000000] [--repeat 30]

One tenant on PostgreSQL is filled with generated rows (SQL generate_series:
members, conversations, and messages spread over a year, in both directions
and every status), then each list request runs in-process through the whole
stack (middleware, token, router, view, pagination) and is timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _report  # noqa: E402

FILL = [
    # 20,000 members
    """INSERT INTO members_member (id, first_name, last_name, phone, email, status,
           opted_out, notes, created_at, updated_at)
       SELECT md5('m' || g)::uuid, 'First' || g, 'Last' || g,
              '+1415' || lpad(g::text, 7, '0'), '', 'active', false, '',
              now() - (g || ' minutes')::interval, now()
       FROM generate_series(1, 20000) g""",
    # one conversation per member
    """INSERT INTO messaging_conversation (id, phone, member_id, status, unread_count,
           needs_attention, created_at, updated_at)
       SELECT md5('c' || g)::uuid, '+1415' || lpad(g::text, 7, '0'),
              md5('m' || g)::uuid, 'open', g % 3, false,
              now() - (g || ' minutes')::interval, now() - (g || ' seconds')::interval
       FROM generate_series(1, 20000) g""",
    # the messages: inbound ones belong to a conversation
    """INSERT INTO messaging_message (id, direction, status, body, segments, encoding,
           member_id, conversation_id, to_number, from_number, error_code, attempts,
           created_at, sent_at)
       SELECT md5('x' || g)::uuid,
              CASE WHEN g % 5 = 0 THEN 'inbound' ELSE 'outbound' END,
              (ARRAY['delivered','delivered','delivered','sent','failed',
                     'undelivered'])[1 + g % 6],
              'Message number ' || g, 1, 'GSM-7',
              md5('m' || (1 + g % 20000))::uuid,
              CASE WHEN g % 5 = 0 THEN md5('c' || (1 + g % 20000))::uuid END,
              '+1415' || lpad((1 + g % 20000)::text, 7, '0'), '+14155550000', '', 1,
              now() - ((g * 31) % 525600 || ' minutes')::interval, now()
       FROM generate_series(1, %(n)s) g""",
    "VACUUM ANALYZE",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--registry", default="churchtext_bench_history")
    parser.add_argument("--prefix", default="bench_hist_")
    parser.add_argument("--no-report", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    setup = _harness.Setup(
        registry=args.registry, prefix=args.prefix, extra_env={"RATE_LIMITS": "off"}
    )
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    with _harness.benchmark_run(setup):
        results, fill_seconds = run(args)
    report(args, setup, pg_version, results, fill_seconds)


def run(args: argparse.Namespace) -> tuple[dict[str, _harness.Stats], float]:
    from django.db import connections
    from django.test import Client
    from tenants.auth import issue_tokens

    from tenants.context import tenant_context
    from tenants.models import Membership, User
    from tenants.provisioning import provision_tenant

    tenant = provision_tenant(name="Big Church")
    user = User.objects.create_user("owner@big.example", "a long passphrase here")
    Membership.objects.create(user=user, tenant=tenant, role="owner")
    started = time.perf_counter()
    with tenant_context(tenant), connections[tenant.alias].cursor() as cursor:
        for statement in FILL:
            cursor.execute(statement.replace("%(n)s", str(args.messages)))
    fill_seconds = time.perf_counter() - started
    print(f"filled {args.messages} messages in {fill_seconds:.1f}s", flush=True)

    token = issue_tokens(user_id=user.id, tenant=tenant, role="owner")["access"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    member = "8f14e45f-ceea-167a-5a36-dedd4bea2543"  # md5('m7')
    conversation = client.get("/api/messages/conversations").json()["results"][0]["id"]
    requests = {
        "history, page 1": "/api/messages/history",
        "history, page 500": "/api/messages/history?page=500",
        "history, inbound": "/api/messages/history?direction=inbound",
        "history, failed": "/api/messages/history?status=failed",
        "history, one member": f"/api/messages/history?member={member}",
        "history, last 7 days": "/api/messages/history?since=" + since(7),
        "conversations, page 1": "/api/messages/conversations",
        "one thread": f"/api/messages/conversations/{conversation}",
    }
    results = {}
    for label, path in requests.items():
        assert client.get(path).status_code == 200, path  # warm-up
        took = []
        for _ in range(args.repeat):
            begin = time.perf_counter()
            response = client.get(path)
            took.append(time.perf_counter() - begin)
            assert response.status_code == 200
        results[label] = _harness.Stats.of(took)
        print(
            f"{label:<24} median {_harness.ms(results[label].median):>10}  "
            f"p95 {_harness.ms(results[label].p95):>10}",
            flush=True,
        )
    return results, fill_seconds


def since(days: int) -> str:
    import datetime as dt

    moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def report(args, setup, pg_version, results, fill_seconds) -> None:
    rows = [
        [label, _harness.ms(s.median), _harness.ms(s.p95), _harness.ms(s.max)]
        for label, s in results.items()
    ]
    body = "\n".join(
        [
            f"One church with {args.messages:,} messages, 20,000 members and 20,000 "
            f"conversations (generated in {fill_seconds:.0f} s); each request "
            f"repeated {args.repeat} times in-process through the whole stack "
            "(page size 20, with the total count):",
            "",
            _report.table(["request", "median", "p95", "max"], rows),
        ]
    )
    print()
    print(body)
    worst = max(s.median for s in results.values())
    verdicts = [
        _report.Verdict(
            target="a tenant with 1,000,000 messages lists a page fast",
            spec="(no number given; we hold ourselves to median < 100 ms)",
            measured=f"slowest listing median {_harness.ms(worst)}",
            verdict="met" if worst < 0.1 else "not met",
        )
    ]
    if not args.no_report:
        _report.write_section(
            "history",
            title="History and conversations with 1,000,000 messages "
            "(`bench/history.py`)",
            pg_version=pg_version,
            config=[
                f"registry `{setup.registry}`, prefix `{setup.prefix}`",
                "Django test client in-process (no HTTP server), PostgreSQL on "
                "loopback, local-memory cache",
            ],
            body=body,
            verdicts=verdicts,
        )


if __name__ == "__main__":
    main()
