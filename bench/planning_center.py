"""Planning Center People sync of 10,000 people, against the rate-limited stand-in.

One list, 100 people a page, into one church on PostgreSQL; the stand-in's
rate limit is on (100 requests per 20 s in real time for the account, shared
by both runs; past it a 429 with Retry-After). The sync runs as a worker runs it
(`runs.start`, then `runs.sync` in the church). Then the same sync with nothing
changed in Planning Center, the statements it sent to the church's database
logged and its writes (INSERT, UPDATE, DELETE) counted.
"""

from typing import Any

from bench import harness, product, report

WRITES = ("INSERT", "UPDATE", "DELETE")


def sync(tenant: Any, log: bool = False) -> dict[str, Any]:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    run, _ = product.runs.start(tenant, "manual")
    with product.tenant_context(tenant):
        with CaptureQueriesContext(connections[product.current_alias()]) as sent:
            if not log:
                sent.connection.force_debug_cursor = False  # timed without the log
            took = harness.clock(product.runs.sync, str(run.pk))[1]
    run.refresh_from_db()
    writes = [q for q in sent.captured_queries if q["sql"].lstrip().startswith(WRITES)]
    if run.status != "succeeded":
        raise RuntimeError(f"sync {run.status}: {run.errors}")
    counts = {"statements": len(sent), "writes": len(writes)} if log else {}
    return {"took_s": round(took, 1), "requests": run.requests, "seen": run.seen,
            "created": run.created, "updated": run.updated, "skipped": run.skipped,
            **counts}  # fmt: skip


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    fake = product.FakePlanningCenter("bench-app", "bench-secret").start()
    everyone = fake.add_list("Everyone")
    for i in range(args.people):
        fake.add_person(f"First{i}", f"Last{i}", lists=[everyone],
            phones=[(f"+1212{5500000 + i}", "Mobile", True)],
            emails=[(f"person{i}@example.org", True)])  # fmt: skip
    env = {"PLANNING_CENTER_API_BASE": fake.base}
    try:
        with harness.run(harness.Setup("planning_center", env)):
            [tenant], _ = harness.provision_many(1, label="Synced Church")
            product.connect_planning_center(tenant, app_id="bench-app",
                secret="bench-secret", lists=[everyone], user_id="bench")  # fmt: skip
            first = sync(tenant)
            again = sync(tenant, log=True)
            throttled = fake.throttled
    finally:
        fake.stop()
    results = {"first sync": first, "again, nothing changed": again,
               "429s answered by the stand-in": throttled}  # fmt: skip
    targets = [
        report.target(f"Planning Center sync of {args.people:,} people, 100 a page, "
            "rate limit on", "<= 120 s", f"{first['took_s']} s, {first['requests']} "
            f"requests, {first['created']:,} members created",
            (first["took_s"], "<=", 120), (first["created"], "==", args.people)),
        report.target("a re-sync with nothing changed", "writes nothing",
            f"{again['writes']} writes of {again['statements']} statements, "
            f"{again['took_s']} s", (again["writes"], "==", 0)),
    ]  # fmt: skip
    report.save("planning_center", args, results, targets)


if __name__ == "__main__":
    main()
