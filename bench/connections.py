"""Tenant connections of one process over 1,000 PostgreSQL tenants: bound, speed, idle.

    .venv/bin/python bench/connections.py [--tenants 1000] [--threads 4] [--lru 20]

Provisions the tenants, then several threads each run
`with tenant_context(tenant): Member.objects.count()` on tenants picked
(a) all from one tenant (the baseline), (b) Zipf-skewed (s = 1) and
(c) uniformly, the three phases interleaved over repeats. A separate psycopg
connection samples pg_stat_activity all along; alias registrations are counted
by wrapping `tenants.connections.acquire`. Last, the idle timeout is lowered and
the time until no tenant connection is left is measured.
"""

from __future__ import annotations

import argparse
import bisect
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _report  # noqa: E402

PHASES = ["one tenant", "zipf", "uniform"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4, help="worker threads")
    parser.add_argument("--lru", type=int, default=20, help="LRU size (aliases)")
    parser.add_argument("--pool-max", type=int, default=1, help="pool max per alias")
    parser.add_argument("--ops", type=int, default=3000, help="operations per phase")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of phases")
    parser.add_argument("--zipf-s", type=float, default=1.0)
    parser.add_argument("--provision-threads", type=int, default=4)
    parser.add_argument("--idle-seconds", type=int, default=2)
    parser.add_argument("--idle-repeats", type=int, default=5)
    parser.add_argument("--miss-samples", type=int, default=100)
    parser.add_argument("--sample-interval", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--registry", default="churchtext_bench_connections")
    parser.add_argument("--prefix", default="bench_conn_")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.lru * args.pool_max > 60:
        parser.error("lru x pool-max above 60 risks the server's max_connections")
    return args


@dataclass
class PhaseResult:
    phase: str
    ops: int
    seconds: float
    latencies: list[float]
    registrations: int
    sessions: int
    peak: int
    final: int
    orphan_pools: int
    threads: int
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.ops / self.seconds


class Registrations:
    """Counts alias registrations: `make_config` runs exactly once per one."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def wrap(self, real: Callable[..., str]) -> Callable[..., str]:
        def acquire(alias: str, make_config: Callable[[], dict]) -> str:
            def make() -> dict:
                with self.lock:
                    self.count += 1
                return make_config()

            return real(alias, make)

        return acquire


def pickers(n: int, s: float, seed: int) -> dict[str, Callable[[random.Random], int]]:
    """Index choosers per phase; popularity ranks are a fixed random permutation."""
    ranking = random.Random(seed).sample(range(n), n)
    cumulative: list[float] = []
    total = 0.0
    for rank in range(n):
        total += 1 / (rank + 1) ** s
        cumulative.append(total)

    def zipf(rng: random.Random) -> int:
        return ranking[min(bisect.bisect(cumulative, rng.random() * total), n - 1)]

    return {
        "one tenant": lambda rng: ranking[0],
        "zipf": zipf,
        "uniform": lambda rng: rng.randrange(n),
    }


def run_phase(
    phase: str,
    pick: Callable[[random.Random], int],
    tenants: list[Any],
    args: argparse.Namespace,
    sampler: _harness.ConnectionSampler,
    registrations: Registrations,
    setup: _harness.Setup,
    seed: int,
) -> PhaseResult:
    from django.db import connections as django_connections

    from members.models import Member
    from tenants import connections
    from tenants.context import tenant_context

    connections.forget_all()  # every phase starts with no alias registered
    time.sleep(0.2)
    sampler.reset_peak()
    sessions_before = _harness.sessions_opened(setup)
    registered_before = registrations.count
    barrier = threading.Barrier(args.threads + 1)
    latencies: list[list[float]] = [[] for _ in range(args.threads)]
    errors: list[str] = []

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        share = args.ops // args.threads + (index < args.ops % args.threads)
        mine = latencies[index]
        barrier.wait()
        try:
            for _ in range(share):
                tenant = tenants[pick(rng)]
                started = time.perf_counter()
                try:
                    with tenant_context(tenant):
                        Member.objects.count()
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                mine.append(time.perf_counter() - started)
        finally:
            django_connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(i,), name=f"bench-{i}")
        for i in range(args.threads)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    _, _, samples = sampler.window()
    sampler.wait_for_samples(samples + 2)  # a sample taken after the last op
    peak, final, _ = sampler.window()
    time.sleep(1.2)  # pg_stat_database counters are flushed about once a second
    flat = [x for per_thread in latencies for x in per_thread]
    orphans, live_threads = orphan_pools()
    return PhaseResult(
        phase=phase,
        ops=len(flat),
        seconds=seconds,
        latencies=flat,
        registrations=registrations.count - registered_before,
        sessions=_harness.sessions_opened(setup) - sessions_before,
        peak=peak,
        final=final,
        orphan_pools=len(orphans),
        threads=live_threads,
        errors=errors,
    )


def orphan_pools() -> tuple[list[str], int]:
    """Tenant pools the process still holds for aliases no longer registered."""
    from django.db import connections as django_connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    registered = set(django_connections.settings)
    orphans = [a for a in DatabaseWrapper._connection_pools if a not in registered]
    return orphans, threading.active_count()


def measure_miss_cost(tenants: list[Any], count: int) -> dict[str, list[float]]:
    """One thread, one tenant at a time: a miss, then a hit, then a bare connect."""
    import psycopg
    from django.db import connections as django_connections

    from members.models import Member
    from tenants import connections
    from tenants.context import tenant_context
    from tenants.servers import database_settings

    connections.forget_all()
    timings: dict[str, list[float]] = {"miss": [], "hit": [], "raw": []}
    for tenant in tenants[:count]:
        for kind in ("miss", "hit"):
            started = time.perf_counter()
            with tenant_context(tenant):
                Member.objects.count()
            timings[kind].append(time.perf_counter() - started)
        config = database_settings(tenant)
        started = time.perf_counter()
        with psycopg.connect(
            host=config["HOST"],
            port=config["PORT"],
            dbname=config["NAME"],
            user=config["USER"],
            password=config["PASSWORD"],
        ) as conn:
            conn.execute("SELECT count(*) FROM members_member").fetchone()
        timings["raw"].append(time.perf_counter() - started)
    django_connections.close_all()
    connections.forget_all()
    return timings


def measure_idle(
    tenants: list[Any], args: argparse.Namespace, sampler: _harness.ConnectionSampler
) -> tuple[list[float], list[int]]:
    """Seconds from the last use of a full LRU until no tenant connection is left."""
    from django.conf import settings
    from django.db import connections as django_connections

    from members.models import Member
    from tenants import connections
    from tenants.context import tenant_context

    settings.TENANT_CONNECTION_IDLE_SECONDS = args.idle_seconds
    waits: list[float] = []
    opened: list[int] = []
    for round_ in range(args.idle_repeats):
        first = round_ * args.lru
        for k in range(first, first + args.lru):
            tenant = tenants[k % len(tenants)]
            with tenant_context(tenant):
                Member.objects.count()
        last_use = time.perf_counter()
        _, _, samples = sampler.window()
        sampler.wait_for_samples(samples + 1)
        opened.append(sampler.window()[1])
        deadline = last_use + 60
        while time.perf_counter() < deadline:
            _, _, samples = sampler.window()
            sampler.wait_for_samples(samples + 1)
            if sampler.window()[1] == 0:
                break
        waits.append(time.perf_counter() - last_use)
        print(
            f"  round {round_ + 1}: {opened[-1]} open after the last use, "
            f"0 after {waits[-1]:.2f}s ({len(connections.registered_aliases())} "
            "aliases still registered)",
            flush=True,
        )
    django_connections.close_all()
    return waits, opened


def main() -> None:
    args = parse_args()
    setup = _harness.Setup(
        registry=args.registry,
        prefix=args.prefix,
        extra_env={
            "TENANT_CONNECTION_LRU_SIZE": str(args.lru),
            "TENANT_POOL_MAX_SIZE": str(args.pool_max),
        },
    )
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    sampler = _harness.ConnectionSampler(setup, interval=args.sample_interval)
    try:
        with _harness.benchmark_run(setup):
            results = run(args, setup, sampler)
    finally:
        sampler.stop()
    report(args, setup, pg_version, results)


def run(
    args: argparse.Namespace,
    setup: _harness.Setup,
    sampler: _harness.ConnectionSampler,
) -> dict[str, Any]:
    from tenants import connections
    from tenants.models import Tenant

    print(f"provisioning {args.tenants} tenants ...", flush=True)
    started = time.perf_counter()
    _harness.provision_many(1, threads=1, label="Warm-up")  # builds the template
    _, provision_seconds = _harness.provision_many(
        args.tenants - 1, threads=args.provision_threads
    )
    provision_wall = time.perf_counter() - started
    tenants = list(
        Tenant.objects.select_related("server")
        .filter(status=Tenant.Status.ACTIVE)
        .order_by("created_at")
    )
    not_active = Tenant.objects.exclude(status=Tenant.Status.ACTIVE).count()
    print(f"  {len(tenants)} active, {not_active} not, in {provision_wall:.0f}s")

    sampler.start()
    sampler.ready.wait(10)
    choosers = pickers(len(tenants), args.zipf_s, args.seed)
    registrations = Registrations()
    results: list[PhaseResult] = []
    overall_peak = 0
    with mock.patch.object(
        connections, "acquire", registrations.wrap(connections.acquire)
    ):
        for repeat in range(args.repeats):
            for phase in PHASES:
                result = run_phase(
                    phase,
                    choosers[phase],
                    tenants,
                    args,
                    sampler,
                    registrations,
                    setup,
                    seed=args.seed + repeat * 10 + PHASES.index(phase),
                )
                overall_peak = max(overall_peak, result.peak)
                results.append(result)
                print(
                    f"  round {repeat + 1} {phase:10s} {result.throughput:8.0f} ops/s"
                    f"  new aliases {result.registrations / max(result.ops, 1):6.1%}"
                    f"  sessions {result.sessions:5d}  peak {result.peak:3d}"
                    f"  final {result.final:3d}  errors {len(result.errors)}"
                    f"  orphan pools {result.orphan_pools}  threads {result.threads}",
                    flush=True,
                )
        final_before_idle = sampler.window()[1]
        print("cost of a miss, one thread ...", flush=True)
        miss_cost = measure_miss_cost(tenants, min(args.miss_samples, len(tenants)))
        print(f"idle timeout lowered to {args.idle_seconds}s ...", flush=True)
        idle_waits, idle_opened = measure_idle(tenants, args, sampler)
    return {
        "tenants": len(tenants),
        "not_active": not_active,
        "provision_seconds": provision_seconds,
        "provision_wall": provision_wall,
        "phases": results,
        "overall_peak": overall_peak,
        "final_before_idle": final_before_idle,
        "idle_waits": idle_waits,
        "idle_opened": idle_opened,
        "miss_cost": miss_cost,
        "orphans_at_end": len(orphan_pools()[0]),
    }


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    pg_version: str,
    results: dict[str, Any],
) -> None:
    bound = args.lru * args.pool_max
    phases: list[PhaseResult] = results["phases"]
    by_phase = {p: [r for r in phases if r.phase == p] for p in PHASES}
    throughput = {
        p: _harness.Stats.of([r.throughput for r in rs]) for p, rs in by_phase.items()
    }
    rows = []
    for phase, rs in by_phase.items():
        lat = _harness.Stats.of([x for r in rs for x in r.latencies])
        ops = sum(r.ops for r in rs)
        rows.append(
            [
                phase,
                f"{throughput[phase].median:.0f} ({throughput[phase].min:.0f}-"
                f"{throughput[phase].max:.0f})",
                f"{throughput[phase].median / throughput['one tenant'].median:.2f}x",
                _harness.ms(lat.median),
                _harness.ms(lat.p95),
                f"{sum(r.registrations for r in rs) / ops:.1%}",
                f"{sum(r.sessions for r in rs) / ops:.1%}",
                max(r.peak for r in rs),
                max(r.final for r in rs),
                max(r.orphan_pools for r in rs),
                max(r.threads for r in rs),
                sum(len(r.errors) for r in rs),
            ]
        )
    headers = [
        "phase",
        "ops/s median (min-max)",
        "vs one tenant",
        "latency median",
        "latency p95",
        "ops registering an alias",
        "ops opening a connection",
        "peak conns",
        "final conns",
        "orphan pools",
        "threads",
        "errors",
    ]
    main_table = _report.table(headers, rows)
    waits = _harness.Stats.of(results["idle_waits"])
    sweep = max(0.2, min(args.idle_seconds / 4, 60.0))
    idle_limit = args.idle_seconds + sweep
    idle_table = _report.table(
        ["rounds", "open at last use", "median", "p95", "min", "max", "limit"],
        [
            [
                waits.n,
                f"{min(results['idle_opened'])}-{max(results['idle_opened'])}",
                f"{waits.median:.2f} s",
                f"{waits.p95:.2f} s",
                f"{waits.min:.2f} s",
                f"{waits.max:.2f} s",
                f"{idle_limit:.2f} s (timeout + one sweep interval)",
            ]
        ],
    )
    cost = {k: _harness.Stats.of(v) for k, v in results["miss_cost"].items()}
    miss_table = _report.table(
        ["operation", "n", "median", "p95"],
        [
            [
                label,
                cost[key].n,
                _harness.ms(cost[key].median),
                _harness.ms(cost[key].p95),
            ]
            for key, label in [
                ("hit", "count() on a registered alias (pool has the connection)"),
                ("miss", "count() on a new alias (register, evict LRU, new pool)"),
                ("raw", "bare psycopg connect + the same count + close"),
            ]
        ],
    )
    prov = _harness.Stats.of(results["provision_seconds"])
    errors = [e for r in phases for e in r.errors]
    peak = results["overall_peak"]
    body = "\n".join(
        [
            f"Provisioned {results['tenants']} tenants ({results['not_active']} not "
            f"active) in {results['provision_wall']:.0f} s with "
            f"{args.provision_threads} threads: per tenant median "
            f"{_harness.ms(prov.median)}, p95 {_harness.ms(prov.p95)}, "
            f"max {_harness.ms(prov.max)}.",
            "",
            f"Workload: {args.repeats} rounds x {len(PHASES)} phases x {args.ops} "
            f"operations from {args.threads} threads. Connection bound = LRU "
            f"{args.lru} x pool max {args.pool_max} = **{bound}**; peak tenant "
            f"connections over all phases: **{peak}**; after the last phase: "
            f"{results['final_before_idle']}.",
            "",
            main_table,
            "",
            '"registering an alias" counts `make_config` calls inside '
            '`tenants.connections.acquire` (exact); "opening a connection" is the '
            "delta of `pg_stat_database.sessions` over this run's databases. "
            '"orphan pools" are entries of Django\'s class-level '
            "`DatabaseWrapper._connection_pools` for aliases that are no longer "
            'registered (each holds psycopg pool threads); "threads" is '
            "`threading.active_count()` at the end of a phase. Orphan pools left at "
            f"the very end: {results['orphans_at_end']}.",
            "",
            "Cost of a miss, measured from one thread with nothing else running "
            "(each tenant: first use, second use, then a bare connection):",
            "",
            miss_table,
            "",
            f"Idle close: `TENANT_CONNECTION_IDLE_SECONDS` set to "
            f"{args.idle_seconds} at run time; each round touches {args.lru} tenants "
            "and measures from the last use until pg_stat_activity shows 0 tenant "
            "connections:",
            "",
            idle_table,
        ]
    )
    if errors:
        body += "\n\nErrors (first 5):\n\n" + "\n".join(f"- `{e}`" for e in errors[:5])
    print()
    print(main_table)
    print()
    print(idle_table)
    print()
    print(miss_table)
    print(f"\nbound {bound}, peak {peak}, errors {len(errors)}")
    zipf_ratio = throughput["zipf"].median / throughput["one tenant"].median
    uniform = by_phase["uniform"]
    uniform_share = sum(r.registrations for r in uniform) / sum(r.ops for r in uniform)
    verdicts = [
        _report.Verdict(
            target="PostgreSQL connections of one web process, over a run touching "
            "1,000+ tenants",
            spec="never above the connection manager's bound",
            measured=f"peak {peak} vs bound {bound} over {results['tenants']} tenants",
            verdict="met" if peak <= bound and not errors else "not met",
        ),
        _report.Verdict(
            target="idle tenants",
            spec="connections closed within the idle timeout (+ one sweep)",
            measured=f"0 left after median {waits.median:.2f} s, max {waits.max:.2f} s"
            f" (timeout {args.idle_seconds} s + sweep {sweep:.1f} s)",
            verdict="met" if waits.max <= idle_limit + 0.25 else "not met",
        ),
        _report.Verdict(
            target="tenants in one registry: 1,000 PostgreSQL databases on one server",
            spec="provisioned in a benchmark run without a fault",
            measured=f"{results['tenants']} active, {results['not_active']} failed",
            verdict="met"
            if results["tenants"] >= 1000 and not results["not_active"]
            else "not met"
            if results["not_active"]
            else "not measured (< 1,000)",
        ),
        _report.Verdict(
            target="CRUD over 1,000 tenants with an LRU of 100",
            spec="Zipf (s = 1): >= 0.8x one tenant; uniform: share opening a "
            "connection reported",
            measured=f"proxy (count() in process, LRU {args.lru}): Zipf "
            f"{zipf_ratio:.2f}x one tenant; uniform {uniform_share:.0%} of ops "
            "registered an alias",
            verdict=f"proxy only: {'met' if zipf_ratio >= 0.8 else 'not met'} "
            "(an LRU of 100 x pool 1 would need all 100 server slots here)",
        ),
    ]
    config = [
        f"{results['tenants']} tenants, registry `{setup.registry}`, "
        f"prefix `{setup.prefix}`",
        f"`TENANT_CONNECTION_LRU_SIZE={args.lru}`, "
        f"`TENANT_POOL_MAX_SIZE={args.pool_max}`, {args.threads} threads, "
        f"Zipf s = {args.zipf_s}, seed {args.seed}",
        "operation: `with tenant_context(tenant): Member.objects.count()` "
        "(Tenant rows loaded once with their server)",
        f"pg_stat_activity sampled every {args.sample_interval * 1000:.0f} ms "
        f"(client backends on `{setup.prefix}*` databases)",
    ]
    if not args.no_report:
        _report.write_section(
            "connections",
            title="Tenant connections over 1,000 tenants (`bench/connections.py`)",
            pg_version=pg_version,
            config=config,
            body=body,
            verdicts=verdicts,
        )
        print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


if __name__ == "__main__":
    main()
