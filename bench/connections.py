"""Tenant connections of one process over 1,000 PostgreSQL tenants: bound, speed, idle.

`--threads` threads run `with tenant_context(tenant): Member.objects.count()`
on tenants picked all from one tenant (the baseline), Zipf-skewed (s = 1) and
uniformly, the three phases interleaved over rounds, with a bound of
`TENANT_CONNECTION_LRU_SIZE` connections. Counted: the tenant sessions in
pg_stat_activity (sampled all along) and the manager's own count
(`reserved_connections`); "registering an alias", `make_config` calls inside
`tenants.connections.acquire`; "opening a connection", the delta of
`pg_stat_database.sessions`; "orphan pools", entries of
`DatabaseWrapper._connection_pools` for aliases no longer registered;
"threads", `threading.active_count()` after a phase. A miss is timed from one
thread alone (each tenant: first use, second use, and a bare psycopg
connection, before them for every other tenant: a database's first session
pays the server's cold caches). Last, with the idle timeout lowered, the time
from a last use until no tenant session is left.
"""

import random
import threading
import time
from typing import Any
from unittest import mock

from bench import harness, product, report
from bench.sampler import ConnectionSampler

tenants: list[Any] = []  # this run's, oldest first
registrations: list[str] = []  # aliases registered: `make_config` runs once each
reserved = [0]  # the manager's own count of its connections, peak per phase


def count_members(tenant: Any) -> None:
    with product.tenant_context(tenant):
        product.Member.objects.count()


def orphan_pools() -> int:
    from django.db import connections as django_connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    registered = set(django_connections.settings)
    return sum(alias not in registered for alias in DatabaseWrapper._connection_pools)


def counting_acquire(real: Any) -> Any:
    def acquire(alias: str, make_config: Any) -> str:
        def make() -> Any:
            registrations.append(alias)  # list.append is atomic
            return make_config()

        return real(alias, make)

    return acquire


def phase(args: Any, setup: Any, sampler: Any, pick: Any, seed: int) -> dict[str, Any]:
    """`args.ops` operations from `args.threads` threads, from no alias registered."""
    from django.db import connections as django_connections

    latencies: list[float] = []
    errors: list[str] = []
    share = harness.shares(args.ops, args.threads)

    def work(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        try:
            for _ in range(share[i]):
                tenant = tenants[pick(rng)]
                try:
                    latencies.append(harness.clock(count_members, tenant)[1])
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
        finally:
            django_connections.close_all()

    def run() -> tuple[float, int, tuple[int, int]]:
        sampler.reset_peak()
        reserved[0] = 0
        registered = len(registrations)
        seconds = harness.run_clients(args.threads, work)
        return seconds, len(registrations) - registered, sampler.next_sample()

    product.connections.forget_all()
    (seconds, registered, (peak, final)), opened = harness.opening_sessions(setup, run)
    return {"ops": len(latencies), "seconds": seconds, "latencies": latencies,
            "registered": registered, "sessions": opened, "peak": peak,
            "reserved": reserved[0], "final": final, "orphans": orphan_pools(),
            "threads": threading.active_count(), "errors": errors}  # fmt: skip


def miss_cost(count: int) -> list[dict[str, Any]]:
    """One thread alone: a tenant's first use, its second, then a bare connection."""
    import psycopg

    product.connections.forget_all()
    took: dict[str, list[float]] = {"miss": [], "hit": [], "raw": []}

    def bare_count(config: dict[str, Any]) -> None:
        with psycopg.connect(
            host=config["HOST"], port=config["PORT"], dbname=config["NAME"],
            user=config["USER"], password=config["PASSWORD"],
        ) as conn:  # fmt: skip
            conn.execute("SELECT count(*) FROM members_member").fetchone()

    for i, tenant in enumerate(tenants[:count]):
        # A database's first session since its creation builds the server's
        # caches for it: every other tenant, the bare connection goes first.
        config = product.database_settings(tenant)
        for kind in ["raw", "miss", "hit"] if i % 2 else ["miss", "hit", "raw"]:
            work = (bare_count, config) if kind == "raw" else (count_members, tenant)
            took[kind].append(harness.clock(*work)[1])
    product.connections.forget_all()
    return [
        {"operation": label} | harness.stats(took[kind], "median p95")
        for kind, label in [
            ("hit", "count() on a registered alias (its connection kept)"),
            ("miss", "count() on a new alias (register, evict a victim, connect)"),
            ("raw", "bare psycopg connect + the same count + close"),
        ]
    ]


def idle_close(args: Any, sampler: Any) -> tuple[list[float], list[int]]:
    """Seconds from the last use of a full LRU until no tenant session is left."""
    from django.conf import settings

    settings.TENANT_CONNECTION_IDLE_SECONDS = args.idle_seconds
    waits, opened = [], []
    for round_ in range(args.idle_repeats):
        for k in range(round_ * args.lru, (round_ + 1) * args.lru):
            count_members(tenants[k % len(tenants)])
        last_use = time.perf_counter()
        opened.append(sampler.next_sample()[1])
        while sampler.next_sample()[1] and time.perf_counter() < last_use + 60:
            pass
        waits.append(time.perf_counter() - last_use)
        print(f"  idle round {round_ + 1}: 0 left after {waits[-1]:.2f}s", flush=True)
    return waits, opened


def measure(args: Any, setup: harness.Setup) -> dict[str, Any]:
    _, provision_seconds = harness.provision_many(args.tenants)
    tenants.extend(harness.active_tenants())
    n = len(tenants)
    pickers = {
        "one tenant": lambda rng: 0,
        "zipf": harness.zipf(n, args.zipf_s, args.seed),
        "uniform": lambda rng: rng.randrange(n),
    }
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in pickers}

    def count_reserved(tick: int, t: float) -> None:
        reserved[0] = max(reserved[0], product.connections.reserved_connections())

    sampler = ConnectionSampler(setup, interval=0.01, hook=count_reserved).begin()
    acquire = counting_acquire(product.connections.acquire)
    try:
        with mock.patch.object(product.connections, "acquire", acquire):
            for round_ in range(args.repeats):
                for i, name in enumerate(pickers):
                    seed = args.seed + round_ * 10 + i
                    r = phase(args, setup, sampler, pickers[name], seed)
                    runs[name].append(r)
                    rate = r["ops"] / r["seconds"]
                    print(f"  {name}: {rate:.0f} ops/s, peak {r['peak']}", flush=True)
            final = sampler.next_sample()[1]
            misses = miss_cost(min(args.miss_samples, n))
            waits, opened = idle_close(args, sampler)
    finally:
        sampler.stop()
    return {"provision_seconds": provision_seconds, "runs": runs, "final": final,
            "misses": misses, "waits": waits, "opened": opened,
            "orphans": orphan_pools()}  # fmt: skip


def main() -> None:
    parser = harness.arguments(__doc__, "tenants threads zipf_s seed", lru=20)
    parser.add_argument("--ops", type=int, default=3000, help="operations per phase")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of phases")
    parser.add_argument("--idle-seconds", type=int, default=2)
    parser.add_argument("--idle-repeats", type=int, default=5)
    parser.add_argument("--miss-samples", type=int, default=100)
    args = parser.parse_args()
    if args.lru > 60:
        parser.error("an LRU above 60 risks the server's max_connections")
    env = {"TENANT_CONNECTION_LRU_SIZE": str(args.lru)}
    with harness.run(setup := harness.Setup("connections", env)):
        found = measure(args, setup)
    n, runs, bound = len(tenants), found["runs"], args.lru
    rate = {p: [r["ops"] / r["seconds"] for r in rs] for p, rs in runs.items()}

    def share(rs: list[dict[str, Any]], key: str) -> float:
        ops = max(1, sum(r["ops"] for r in rs))
        return round(100 * sum(r[key] for r in rs) / ops, 1)

    base = harness.median(rate["one tenant"])
    latencies = {p: [x for r in rs for x in r["latencies"]] for p, rs in runs.items()}
    phases = [
        {"phase": p, "ops/s median": round(harness.median(rate[p])),
         "ops/s min": round(min(rate[p])), "ops/s max": round(max(rate[p])),
         "vs one tenant_x": round(harness.median(rate[p]) / base, 2),
         **harness.stats(latencies[p], "median p95", n=False),
         "ops registering an alias_pct": share(rs, "registered"),
         "ops opening a connection_pct": share(rs, "sessions"),
         **{k: max(r[k] for r in rs)
            for k in ("reserved", "peak", "final", "orphans", "threads")},
         "errors": sum(len(r["errors"]) for r in rs)}
        for p, rs in runs.items()
    ]  # fmt: skip
    peak = max(p["peak"] for p in phases)
    held = max(p["reserved"] for p in phases)
    errors = [e for rs in runs.values() for r in rs for e in r["errors"]]
    sweep = max(0.2, min(args.idle_seconds / 4, 60.0))
    limit = args.idle_seconds + sweep
    idle = harness.stats(found["waits"], "median p95 min max", "s")
    zipf, opened = phases[1]["vs one tenant_x"], found["opened"]
    miss, bare = (found["misses"][i]["median_ms"] for i in (1, 2))
    results = {
        "provisioning": {"tenants active": n, "not active": args.tenants - n}
        | harness.stats(found["provision_seconds"][1:], "median p95 max"),
        "phases": phases,
        "connections": {
            "bound (LRU)": bound,
            "peak held by the process (its own count)": held,
            "peak seen by the server (pg_stat_activity)": peak,
            "after the last phase": found["final"],
            "orphan pools at the end": found["orphans"],
            "errors (first 5)": errors[:5],
        },
        "cost of a miss (one thread alone)": found["misses"],
        "idle close (from the last use until no tenant session)": {
            "open at last use": f"{min(opened)}-{max(opened)}",
            **idle,
            "limit (timeout + one sweep)_s": limit,
        },
    }
    targets = [
        report.target("PostgreSQL connections of one web process, over a run "
            "touching 1,000+ tenants", "never above the connection manager's bound",
            f"peak {held} held vs bound {bound} over {n} tenants (the server saw "
            f"{peak}: it lists a closed session a moment after the close, at most "
            f"one per thread evicting)", (held, "<=", bound),
            (peak, "<=", bound + args.threads), (len(errors), "==", 0)),
        report.target("idle tenants",
            "connections closed within the idle timeout (+ one sweep)",
            f"0 left after median {idle['median_s']} s, max {idle['max_s']} s "
            f"(timeout {args.idle_seconds} s + sweep {sweep:.1f} s)",
            (idle["max_s"], "<=", limit + 0.25)),
        report.target(
            "tenants in one registry: 1,000 PostgreSQL databases on one server",
            "provisioned in a benchmark run without a fault",
            f"{n} active, {args.tenants - n} failed", (args.tenants - n, "==", 0),
            (n if n >= 1000 else None, ">=", 1000)),  # fewer: not measured
        report.target("a cold tenant: first use in the process", "at most 1.2x a "
            "bare PostgreSQL connection", f"median {miss} ms against {bare} ms for "
            f"a bare connection, the same count and close: {miss / bare:.2f}x",
            (round(miss / bare, 2), "<=", 1.2)),
        report.target("CRUD over 1,000 tenants with an LRU of 100",
            "Zipf (s = 1): >= 0.8x one tenant; uniform: share opening a "
            "connection reported", f"proxy (count() in process, LRU {args.lru}): "
            f"Zipf {zipf}x one tenant; uniform "
            f"{phases[2]['ops registering an alias_pct']}% of ops registered an "
            "alias", (zipf, ">=", 0.8),
            note="proxy only: an LRU of 100 would need all 100 server slots here"),
    ]  # fmt: skip
    config = {"operation": "with tenant_context(tenant): Member.objects.count()"}
    report.save("connections", args, results, targets, config=config)


if __name__ == "__main__":
    main()
