"""Member import (10,000-row CSV) and member search over 100,000 members, over HTTP.

    .venv/bin/python bench/members.py [--rows 10000] [--search-members 100000]

Starts `gunicorn config.wsgi -w 2` on PostgreSQL + Redis with the bench's own
registry, tenant prefix and cache prefix.

(a) Import: each repeat registers a new church over HTTP, creates two branches,
and posts the same 10,000-row CSV to `POST /api/members/import` (all rows new);
then posts it again (every row unchanged: all skipped) and a third time with
every row's last name and tags changed (all updated).

(b) Search: one more church gets 100,000 members bulk-inserted in this process
(`Member.objects.bulk_create` inside `tenant_context`, a tenth of them tagged),
then `ANALYZE`; each list query is timed over HTTP, and the SQL the view runs
for the searches is captured in-process and shown with `EXPLAIN (ANALYZE,
BUFFERS)` to confirm which indexes serve it.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _http  # noqa: E402
import _report  # noqa: E402

PASSWORD = "correct horse battery staple 42"
FIRST = [
    "Anna", "Ben", "Carla", "David", "Esther", "Felix", "Grace", "Hugo", "Irene",
    "James", "Karen", "Luis", "Maria", "Noah", "Olivia", "Peter", "Ruth", "Samuel",
    "Tabitha", "Victor",
]  # fmt: skip
LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill",
    "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Okonkwo", "Silverstein", "Kowalczyk",
    "Fitzgerald", "Abernathy", "Castellanos", "Lindqvist", "Yamamoto", "Oyelaran",
    "Papadopoulos",
]  # fmt: skip
TAGS = ["choir", "youth", "volunteers", "men", "women", "newcomers", "prayer"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="CSV rows")
    parser.add_argument("--repeats", type=int, default=3, help="imports, fresh tenant")
    parser.add_argument("--search-members", type=int, default=100_000)
    parser.add_argument("--search-repeats", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--registry", default="churchtext_bench_members")
    parser.add_argument("--prefix", default="bench_mem_")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.rows > 40_000:
        parser.error("--rows: at most 40,000 (distinct numbers in 4 exchanges)")
    if args.search_members > 1_000_000:
        parser.error("--search-members: at most 1,000,000")
    return args


def main() -> None:
    args = parse_args()
    args.code = _http.code_version()  # the tree changes under us: note what ran
    env = _http.bench_env("members", TENANT_POOL_MAX_SIZE="2")
    setup = _harness.Setup(registry=args.registry, prefix=args.prefix, extra_env=env)
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    try:
        with _harness.benchmark_run(setup):
            server = _http.Gunicorn(_http.service_env(), workers=args.workers)
            with _http.running(server):
                client = _http.Client(server.port)
                imports = run_imports(args, client)
                search = run_search(args, client)
    finally:
        removed = _http.delete_keys(14, _http.cache_pattern(env))
        print(f"removed {removed} Redis cache keys")
    report(args, setup, env, pg_version, imports, search)


def register(client: _http.Client, n: int, label: str) -> dict[str, Any]:
    answer = client.post(
        "/api/auth/register",
        json_body={
            "organization_name": f"Bench Members {label} {n}",
            "email": f"owner-{label}-{n}@bench-members.example.org",
            "password": PASSWORD,
        },
    )
    return _http.expect(answer, 201, f"register {label} {n}").json()


# --- (a) import -----------------------------------------------------------------


def csv_rows(count: int, variant: int = 0) -> tuple[bytes, set[str]]:
    """A CSV of `count` members with distinct valid US numbers, several formats."""
    from members.phones import to_e164

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["first_name", "last_name", "phone", "email", "branch", "tags"])
    phones: set[str] = set()
    for i in range(count):
        exchange, line = 555 + i // 10_000, i % 10_000  # 415-555..558, all valid
        formats = [
            f"+1415{exchange}{line:04d}",
            f"(415) {exchange}-{line:04d}",
            f"415.{exchange}.{line:04d}",
            f"1-415-{exchange}-{line:04d}",
        ]
        raw = formats[i % len(formats)]
        phones.add(to_e164(raw, "US"))
        last = LAST[i % len(LAST)] + ("" if variant == 0 else "-Changed")
        tags = ";".join(
            TAGS[j] for j in range(len(TAGS)) if (i + variant) % (j + 3) == 0
        )
        writer.writerow(
            [
                FIRST[i % len(FIRST)],
                last,
                raw,
                f"{FIRST[i % len(FIRST)].lower()}.{LAST[i % len(LAST)].lower()}{i}"
                "@example.org",
                ["", "North", "South"][i % 3],
                tags,
            ]
        )
    if len(phones) != count:
        raise RuntimeError(f"only {len(phones)} distinct valid numbers in {count}")
    return out.getvalue().encode(), phones


def run_imports(args: argparse.Namespace, client: _http.Client) -> dict[str, Any]:
    data, _ = csv_rows(args.rows)
    changed, _ = csv_rows(args.rows, variant=1)
    print(
        f"CSV: {args.rows} rows, {len(data) / 1024:.0f} KiB; every number valid "
        "and distinct (members.phones.to_e164)"
    )
    times: dict[str, list[float]] = {"new": [], "unchanged": [], "changed": []}
    answers: dict[str, list[dict]] = {k: [] for k in times}
    register(client, 0, "warmup")  # builds the template
    for i in range(args.repeats):
        church = register(client, i, "import")
        token = church["access"]
        for name in ("North", "South"):
            _http.expect(
                client.post("/api/branches", json_body={"name": name}, token=token),
                201,
                f"branch {name}",
            )
        for kind, body in (("new", data), ("unchanged", data), ("changed", changed)):
            answer = client.upload(
                "/api/members/import", "file", "members.csv", body, token=token
            )
            _http.expect(answer, 200, f"import {kind} #{i}")
            times[kind].append(answer.seconds)
            summary = answer.json()
            summary["errors"] = len(summary["errors"])
            answers[kind].append(summary)
            print(f"  import #{i + 1} {kind:>9}: {answer.seconds:.2f}s {summary}")
    expected = {
        "new": {"created": args.rows, "updated": 0, "skipped": 0, "errors": 0},
        "unchanged": {"created": 0, "updated": 0, "skipped": args.rows, "errors": 0},
        "changed": {"created": 0, "updated": args.rows, "skipped": 0, "errors": 0},
    }
    wrong = [
        f"{kind}: {a}"
        for kind, items in answers.items()
        for a in items
        if a != expected[kind]
    ]
    return {"times": times, "answers": answers, "wrong": wrong, "bytes": len(data)}


# --- (b) search -------------------------------------------------------------------


def fill(tenant_id: str, count: int) -> dict[str, Any]:
    """Bulk-insert `count` members (and tags for a tenth) into one tenant."""
    from django.db import connections as django_connections

    from members.models import Member, MemberTag
    from tenants import connections
    from tenants.context import tenant_context
    from tenants.models import Tenant

    tenant = Tenant.objects.select_related("server").get(pk=tenant_id)
    batch = 5000
    started = time.perf_counter()
    with tenant_context(tenant):
        for start in range(0, count, batch):
            members = [
                Member(
                    first_name=FIRST[i % len(FIRST)],
                    last_name=LAST[(i * 7) % len(LAST)],
                    phone=f"+1212{200 + i // 10_000:03d}{i % 10_000:04d}",
                    email=f"{FIRST[i % len(FIRST)].lower()}."
                    f"{LAST[(i * 7) % len(LAST)].lower()}{i}@example.org",
                )
                for i in range(start, min(count, start + batch))
            ]
            Member.objects.bulk_create(members, batch_size=batch)
            tags = [
                MemberTag(member=m, name=TAGS[k % len(TAGS)])
                for k, m in enumerate(members)
                if k % 10 == 0
            ]
            MemberTag.objects.bulk_create(tags, batch_size=batch)
            done = min(count, start + batch)
            if done % (batch * 4) == 0 or done == count:
                print(
                    f"  inserted {done}/{count} members in "
                    f"{time.perf_counter() - started:.0f}s",
                    flush=True,
                )
        inserted = time.perf_counter() - started
        with django_connections[tenant.alias].cursor() as cursor:
            cursor.execute("ANALYZE members_member")
            cursor.execute("ANALYZE members_membertag")
        tagged = MemberTag.objects.filter(name="choir").count()
    connections.forget(tenant.alias)
    return {"tenant": tenant, "seconds": inserted, "choir": tagged}


def search_queries() -> dict[str, dict[str, str]]:
    """Label -> query parameters; each picked to match a realistic share."""
    return {
        "plain list (page 1, ordering last_name)": {},
        "search name fragment `ilverst`": {"search": "ilverst"},
        "search first name `Tabitha`": {"search": "Tabitha"},
        "search phone digits `2071234`": {"search": "2071234"},
        "search email fragment `.okonkwo12`": {"search": ".okonkwo12"},
        "tag=choir": {"tag": "choir"},
        "ordering=-created_at": {"ordering": "-created_at"},
        "search + ordering=-created_at, page 5": {
            "search": "son",
            "ordering": "-created_at",
            "page": "5",
        },
    }


def run_search(args: argparse.Namespace, client: _http.Client) -> dict[str, Any]:
    church = register(client, 0, "search")
    token = church["access"]
    print(f"inserting {args.search_members} members into one tenant ...", flush=True)
    filled = fill(church["tenant"]["id"], args.search_members)
    queries = search_queries()
    timings: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for label, params in queries.items():
        path = "/api/members" + (f"?{urlencode(params)}" if params else "")
        for _ in range(2):  # warm-up: caches, plans
            client.get(path, token=token)
        values = []
        for _ in range(args.search_repeats):
            answer = _http.expect(client.get(path, token=token), 200, label)
            values.append(answer.seconds)
        counts[label] = answer.json()["count"]
        timings[label] = values
        stats = _harness.Stats.of(values)
        print(
            f"  {label:<45} count {counts[label]:>6}  median "
            f"{_harness.ms(stats.median)}  p95 {_harness.ms(stats.p95)}",
            flush=True,
        )
    plans = explain(filled["tenant"], token, queries)
    return {
        "timings": timings,
        "counts": counts,
        "plans": plans,
        "insert_seconds": filled["seconds"],
        "choir": filled["choir"],
        "members": args.search_members,
    }


INDEX_NAME = re.compile(
    r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) "
    r"(\S+)"
)
EXEC = re.compile(r"Execution Time: ([\d.]+) ms")


def explain(
    tenant: Any, token: str, queries: dict[str, dict[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the SELECTs the view runs for each search."""
    from django.db import connections as django_connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tenants import connections
    from tenants.context import tenant_context

    test_client = Client(headers={"authorization": f"Bearer {token}"})
    plans: dict[str, list[dict[str, Any]]] = {}
    with tenant_context(tenant):
        # Keep the alias registered, so that the view's queries can be captured.
        wrapper = django_connections[tenant.alias]
        for label, params in queries.items():
            if "search" not in params:
                continue
            with CaptureQueriesContext(wrapper) as captured:
                response = test_client.get("/api/members", params)
            if response.status_code != 200:
                raise RuntimeError(f"{label}: {response.status_code}")
            plans[label] = []
            for query in captured.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                with wrapper.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                plans[label].append(
                    {
                        "sql": sql,
                        "plan": plan,
                        "indexes": sorted(set(INDEX_NAME.findall(plan))),
                        "seq_scan": "Seq Scan on members_member" in plan,
                        "ms": float(EXEC.search(plan).group(1)),
                    }
                )
    connections.forget(tenant.alias)
    return plans


def _uses_trigram(item: dict[str, Any]) -> bool:
    return any(name.endswith("_trgm") for name in item["indexes"])


# --- report ---------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    env: dict[str, str],
    pg_version: str,
    imports: dict[str, Any],
    search: dict[str, Any],
) -> None:
    labels = {
        "new": "fresh tenant, every row new (created)",
        "unchanged": "same file again (all skipped)",
        "changed": "every row's last name and tags changed (updated)",
    }
    import_table = _report.table(
        ["import of the CSV", "n", "median", "min", "max", "answer (first run)"],
        [
            [
                labels[kind],
                len(values),
                f"{s.median:.2f} s",
                f"{s.min:.2f} s",
                f"{s.max:.2f} s",
                imports["answers"][kind][0],
            ]
            for kind, values in imports["times"].items()
            for s in [_harness.Stats.of(values)]
        ],
    )
    search_table = _report.table(
        ["`GET /api/members?...`", "matches (count)", "median", "p95", "min", "max"],
        [
            [
                label,
                search["counts"][label],
                _harness.ms(s.median),
                _harness.ms(s.p95),
                _harness.ms(s.min),
                _harness.ms(s.max),
            ]
            for label, values in search["timings"].items()
            for s in [_harness.Stats.of(values)]
        ],
    )
    plan_rows = []
    for label, items in search["plans"].items():
        for item in items:
            kind = (
                "count"
                if "COUNT(*)" in item["sql"].upper()
                else ("tags (prefetch)" if "membertag" in item["sql"] else "page")
            )
            plan_rows.append(
                [
                    label,
                    kind,
                    ", ".join(item["indexes"]) or "-",
                    "yes" if item["seq_scan"] else "no",
                    "-"
                    if kind == "tags (prefetch)"
                    else ("yes" if _uses_trigram(item) else "no"),
                    f"{item['ms']:.1f} ms",
                ]
            )
    plan_table = _report.table(
        [
            "search",
            "query",
            "indexes used",
            "seq scan of members",
            "trigram index used",
            "execution",
        ],
        plan_rows,
    )
    first_label = next(iter(search["plans"]))
    shown = search["plans"][first_label]
    full_plans = "\n\n".join(
        f"-- {item['sql']}\n{item['plan']}"
        for item in shown
        if "membertag" not in item["sql"]
    )
    new = _harness.Stats.of(imports["times"]["new"])
    search_stats = {
        label: _harness.Stats.of(values) for label, values in search["timings"].items()
    }
    slowest = max(search_stats, key=lambda k: search_stats[k].median)
    no_trigram = [f"{r[0]} ({r[1]})" for r in plan_rows if r[4] == "no"]
    searched = [r for r in plan_rows if r[4] != "-"]
    body = "\n".join(
        [
            "### (a) `POST /api/members/import`",
            "",
            f"{args.rows} rows ({imports['bytes'] / 1024:.0f} KiB), distinct valid "
            "US numbers in four formats, a third with each branch, some tags; "
            "wall clock per request over HTTP:",
            "",
            import_table,
            "",
            "Every answer as expected (created / skipped / updated counts, no "
            "errors): "
            + (
                "yes." if not imports["wrong"] else "NO: " + "; ".join(imports["wrong"])
            ),
            "",
            f"### (b) Search over {search['members']:,} members in one tenant",
            "",
            f"Bulk insert of {search['members']:,} members (+ a tag on every tenth; "
            f"`choir` on {search['choir']:,}) took {search['insert_seconds']:.0f}s "
            "in-process, then `ANALYZE`. Wall clock over HTTP, "
            f"{args.search_repeats} requests each after 2 warm-up ones, default "
            "page size 20:",
            "",
            search_table,
            "",
            "Index use: `EXPLAIN (ANALYZE, BUFFERS)` of each SELECT the view ran "
            "(captured in-process with `CaptureQueriesContext`):",
            "",
            plan_table,
            "",
            "Search queries that used no trigram index: "
            + ("; ".join(no_trigram) if no_trigram else "none")
            + ".",
            "",
            f"Full plans for `{first_label}`:",
            "",
            "```",
            full_plans,
            "```",
        ]
    )
    print()
    print(import_table)
    print()
    print(search_table)
    print()
    print(plan_table)
    print()
    print(full_plans)
    verdicts = [
        _report.Verdict(
            target="`POST /api/members/import`, 10,000 rows",
            spec="<= 5 s",
            measured=(
                f"{args.rows} new rows, fresh tenant: median {new.median:.2f} s "
                f"(n={new.n}); re-import (all skipped) "
                f"{_harness.Stats.of(imports['times']['unchanged']).median:.2f} s; "
                f"all updated "
                f"{_harness.Stats.of(imports['times']['changed']).median:.2f} s"
            ),
            verdict=("met" if new.median <= 5 and not imports["wrong"] else "not met"),
        ),
        _report.Verdict(
            target=f"member search over {search['members']:,} members (no spec figure)",
            spec="reported; trigram indexes used",
            measured=(
                f"slowest median: {slowest} {_harness.ms(search_stats[slowest].median)}"
                f"; {len(no_trigram)} of {len(searched)} search queries (count or "
                "page) used no trigram index"
            ),
            verdict=(
                "reported; trigram indexes NOT used by the planner"
                if no_trigram
                else "reported; trigram indexes used"
            ),
        ),
    ]
    config = [
        f"code: {args.code}",
        f"`gunicorn config.wsgi -w {args.workers}` (sync workers), started and "
        "stopped by the script",
        f"registry `{setup.registry}`, tenant prefix `{setup.prefix}`, one "
        "PostgreSQL server; Redis cache "
        f"`{env['REDIS_URL']}` prefix `{env['CACHE_KEY_PREFIX']}`; DEBUG=false, "
        "RATE_LIMITS=off",
        f"import: {args.repeats} repeats, each in a newly registered church with "
        "branches North and South; the three imports of a repeat run in a row",
        f"search: {args.search_members:,} members in one church, names from "
        f"{len(FIRST)} first and {len(LAST)} last names, numbers +1 212 2xx xxxx",
    ]
    if not args.no_report:
        _report.write_section(
            "members",
            title="Member import and search (`bench/members.py`)",
            pg_version=pg_version,
            config=config,
            body=body,
            verdicts=verdicts,
        )
        print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


if __name__ == "__main__":
    main()
