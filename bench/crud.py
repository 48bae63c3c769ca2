"""Member CRUD over HTTP: database-per-tenant against a single fixed database.

    .venv/bin/python bench/crud.py [--tenants 1000] [--lru 35] [--rounds 8]

Two gunicorn servers (2 sync workers each) run side by side:

- the real app (`config.wsgi`) on PostgreSQL + Redis, with
  TENANT_CONNECTION_LRU_SIZE=--lru and TENANT_POOL_MAX_SIZE=--pool-max;
- `bench/plainapp`, a plain single-database Django + DRF app with the same
  member model, tables, indexes, serializer, view, pagination and middleware
  (minus the tenant middleware), on one PostgreSQL database of its own.

Each client repeats a cycle of five requests on one member: create, read, list
(a page of 20), update, delete. Scenarios: the plain app; the real app with
every request to one tenant (the same-code single-database baseline); and
requests spread over 100 and over 1,000 tenants, Zipf-skewed (s = 1) and
uniform, the tenant picked per cycle. Each scenario runs with 1 client and with
8 clients, the scenarios interleaved over rounds so that noise hits all alike.
SQL statements per request are counted in-process (django.test.Client with
CaptureQueriesContext) for the real app and, in a subprocess, for the plain one.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _crudmix  # noqa: E402
import _harness  # noqa: E402
import _http  # noqa: E402
import _report  # noqa: E402

BENCH = Path(__file__).resolve().parent
CONNECTION_BUDGET = 80


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--mid", type=int, default=100, help="the middle spread")
    parser.add_argument("--lru", type=int, default=35, help="aliases per worker")
    parser.add_argument("--pool-max", type=int, default=1, help="pool max per alias")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--cycles-1", type=int, default=40, help="measured cycles, 1 client, per round"
    )
    parser.add_argument(
        "--cycles-n", type=int, default=120, help="measured cycles, N clients, a round"
    )
    parser.add_argument("--warmup", type=int, default=4, help="warm-up cycles/client")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--members", type=int, default=25, help="seeded per tenant")
    parser.add_argument("--count-repeats", type=int, default=5)
    parser.add_argument("--provision-threads", type=int, default=4)
    parser.add_argument("--zipf-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--registry", default="churchtext_bench_crud")
    parser.add_argument("--prefix", default="bench_crud_")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write docs/benchmarks.md"
    )
    args = parser.parse_args()
    bound = args.workers * args.lru * args.pool_max
    if bound > CONNECTION_BUDGET:
        parser.error(
            f"workers x lru x pool-max = {bound} tenant connections; this server "
            f"allows 100 in all: stay at or below {CONNECTION_BUDGET}"
        )
    if args.mid > args.tenants:
        parser.error("--mid must not exceed --tenants")
    if args.members < 20:
        parser.error("--members must be at least 20 (a full page)")
    return args


@dataclass
class Run:
    scenario: str
    clients: int
    round: int
    requests: int
    seconds: float
    latencies: dict[str, list[float]]
    sessions: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def main() -> None:
    args = parse_args()
    args.code = _http.code_version()  # the tree changes under us: note what ran
    env = _http.bench_env(
        "crud",
        TENANT_CONNECTION_LRU_SIZE=str(args.lru),
        TENANT_POOL_MAX_SIZE=str(args.pool_max),
    )
    setup = _harness.Setup(registry=args.registry, prefix=args.prefix, extra_env=env)
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    plain_db = f"{args.registry}_plain"
    try:
        with _harness.benchmark_run(setup):
            results = run(args, setup, plain_db)
    finally:
        drop_database(plain_db)
        removed = _http.delete_keys(14, _http.cache_pattern(env))
        print(f"dropped {plain_db}; removed {removed} Redis cache keys")
    report(args, setup, env, pg_version, results)


# --- setup ----------------------------------------------------------------------


def drop_database(name: str) -> None:
    from psycopg import sql

    with _harness.admin_connection() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def plain_env(plain_db: str) -> dict[str, str]:
    return _http.service_env(
        PLAIN_DATABASE_URL=f"{_harness.SERVER_URL}/{plain_db}",
        PYTHONPATH=f"{_http.ROOT}:{BENCH}",
    )


def plain_tool(plain_db: str, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "plainapp.tools", *argv],
        cwd=_http.ROOT,
        env=plain_env(plain_db),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise RuntimeError(f"plainapp.tools {argv}: {done.stderr[-2000:]}")
    return done.stdout


def prepare_plain(plain_db: str, members: int) -> None:
    from psycopg import sql

    drop_database(plain_db)
    with _harness.admin_connection() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(plain_db)))
    plain_tool(plain_db, "migrate")
    plain_tool(plain_db, "seed", str(members))


def seed_tenants(tenants: list[Any], members: int, threads: int) -> None:
    """Seed each tenant with `members` members (half tagged), then let go of it."""
    from django.db import connections as django_connections

    from members.models import Member, MemberTag
    from tenants import connections
    from tenants.context import tenant_context

    rows = _crudmix.seed_rows(members)
    done = [0]
    lock = threading.Lock()
    started = time.perf_counter()

    def one(tenant: Any) -> None:
        try:
            with tenant_context(tenant):
                objs = [Member(**row) for row in rows]
                Member.objects.bulk_create(objs)
                MemberTag.objects.bulk_create(
                    [MemberTag(member=m, name="seeded") for m in objs[::2]]
                )
        finally:
            connections.forget(tenant.alias)
            django_connections.close_all()
        with lock:
            done[0] += 1
            if done[0] % max(1, len(tenants) // 10) == 0:
                print(
                    f"  seeded {done[0]}/{len(tenants)} tenants in "
                    f"{time.perf_counter() - started:.0f}s",
                    flush=True,
                )

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, tenants))


def issue_tokens(tenants: list[Any]) -> list[str]:
    """One owner in every tenant; an access token per tenant (a login session)."""
    from tenants.auth import issue_tokens as issue

    from tenants.models import Membership, User

    user = User.objects.create_user(email="owner@bench-crud.example.org")
    Membership.objects.bulk_create(
        [Membership(user=user, tenant=t, role=Membership.Role.OWNER) for t in tenants]
    )
    return [
        issue(user_id=user.id, tenant=t, role=Membership.Role.OWNER)["access"]
        for t in tenants
    ]


# --- SQL per request ----------------------------------------------------------------


def count_tenant_queries(
    tenant: Any, cold_tenant: Any, token: str, cold_token: str, repeats: int
) -> dict[str, Any]:
    """SQL per operation in-process: registry and tenant database, warm and cold."""
    from django.db import connections as django_connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tenants import connections, lookup

    def sender(client: Client, seen: dict[str, tuple[int, int]]) -> _crudmix.Send:
        def send(method: str, path: str, body: Any) -> tuple[int, Any, float]:
            alias = tenant_alias[0]
            with CaptureQueriesContext(django_connections["default"]) as registry:
                if alias in django_connections.settings:
                    with CaptureQueriesContext(django_connections[alias]) as own:
                        response = call(client, method, path, body)
                    own_count = len(own)
                else:
                    response = call(client, method, path, body)
                    own_count = -1  # the alias did not exist before the request
            op = _op_of(method, path)
            seen[op] = (len(registry), own_count)
            data = response.json() if response.content else None
            return response.status_code, data, 0.0

        return send

    tenant_alias = [tenant.alias]
    counts: dict[str, list[tuple[int, int]]] = {op: [] for op in _crudmix.OPS}
    client = Client(headers={"authorization": f"Bearer {token}"})
    _crudmix.cycle(sender(client, {}), _crudmix.cycle_phone(98, 0))  # warm
    for i in range(repeats):
        seen: dict[str, tuple[int, int]] = {}
        _crudmix.cycle(sender(client, seen), _crudmix.cycle_phone(98, i + 1))
        for op in _crudmix.OPS:
            counts[op].append(seen[op])

    # A tenant this process has not seen: its row is not cached, no alias yet.
    lookup.invalidate_tenant(cold_tenant.id)
    lookup._servers.clear()
    connections.forget(cold_tenant.alias)
    tenant_alias[0] = cold_tenant.alias
    cold: dict[str, tuple[int, int]] = {}
    cold_client = Client(headers={"authorization": f"Bearer {cold_token}"})
    _crudmix.cycle(sender(cold_client, cold), _crudmix.cycle_phone(98, 0))
    connections.forget_all()
    django_connections.close_all()
    return {"warm": counts, "cold": cold}


def call(client: Any, method: str, path: str, body: Any) -> Any:
    return client.generic(
        method,
        path,
        json.dumps(body) if body is not None else "",
        content_type="application/json",
    )


def _op_of(method: str, path: str) -> str:
    return {"POST": "create", "PATCH": "update", "DELETE": "delete"}.get(
        method, "list" if "?" in path else "read"
    )


# --- load ---------------------------------------------------------------------------


def pickers(n_all: int, mid: int, s: float, seed: int) -> dict[str, Callable]:
    """Per scenario: rng -> tenant index (popularity ranks: a random permutation)."""

    def zipf_over(n: int, salt: int) -> Callable[[random.Random], int]:
        ranking = random.Random(seed + salt).sample(range(n), n)
        cumulative, total = [], 0.0
        for rank in range(n):
            total += 1 / (rank + 1) ** s
            cumulative.append(total)

        def pick(rng: random.Random) -> int:
            return ranking[min(bisect.bisect(cumulative, rng.random() * total), n - 1)]

        return pick

    return {
        "plain single DB": lambda rng: 0,
        "1 tenant": lambda rng: 0,
        f"{mid} tenants zipf": zipf_over(mid, 1),
        f"{mid} tenants uniform": lambda rng: rng.randrange(mid),
        f"{n_all} tenants zipf": zipf_over(n_all, 2),
        f"{n_all} tenants uniform": lambda rng: rng.randrange(n_all),
    }


class Load:
    """Runs the cycle from N client threads against one server."""

    def __init__(self, tokens: list[str], seed: int) -> None:
        self.tokens = tokens
        self.seed = seed
        self.phone_counter: dict[int, int] = {}
        self.lock = threading.Lock()

    def _phone(self, client_index: int) -> str:
        with self.lock:
            n = self.phone_counter.get(client_index, 0)
            self.phone_counter[client_index] = n + 1
        return _crudmix.cycle_phone(client_index, n)

    def run(
        self,
        port: int,
        pick: Callable[[random.Random], int],
        clients: int,
        cycles: int,
        salt: int,
    ) -> tuple[float, dict[str, list[float]], list[str], int]:
        latencies: dict[str, list[float]] = {op: [] for op in _crudmix.OPS}
        errors: list[str] = []
        shares = [cycles // clients + (i < cycles % clients) for i in range(clients)]
        http = _http.Client(port)

        def send(token: str) -> _crudmix.Send:
            def one(method: str, path: str, body: Any) -> tuple[int, Any, float]:
                answer = http.request(method, path, json_body=body, token=token)
                data = json.loads(answer.body) if answer.body else None
                return answer.status, data, answer.seconds

            return one

        def work(i: int) -> None:
            rng = random.Random(self.seed * 1_000_003 + salt * 101 + i)
            mine: dict[str, list[float]] = {op: [] for op in _crudmix.OPS}
            for _ in range(shares[i]):
                token = self.tokens[pick(rng)]
                try:
                    took = _crudmix.cycle(send(token), self._phone(i))
                except Exception as exc:
                    with self.lock:
                        errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                for op, seconds in took.items():
                    mine[op].append(seconds)
            with self.lock:
                for op, values in mine.items():
                    latencies[op].extend(values)

        wall = _http.run_clients(clients, work)
        requests = sum(len(v) for v in latencies.values())
        return wall, latencies, errors, requests


def run(args: argparse.Namespace, setup: _harness.Setup, plain_db: str) -> dict:
    print(f"provisioning {args.tenants} tenants ...", flush=True)
    started = time.perf_counter()
    tenants, _ = _harness.provision_many(
        args.tenants, threads=args.provision_threads, label="Bench CRUD Church"
    )
    tenants.sort(key=lambda t: t.created_at)
    provision_seconds = time.perf_counter() - started
    print(f"seeding {args.members} members into each tenant ...", flush=True)
    started = time.perf_counter()
    seed_tenants(tenants, args.members, args.provision_threads)
    seed_seconds = time.perf_counter() - started
    tokens = issue_tokens(tenants)
    print("preparing the plain single-database app ...", flush=True)
    prepare_plain(plain_db, args.members)

    print("counting SQL per request (in-process) ...", flush=True)
    tenant_sql = count_tenant_queries(
        tenants[0], tenants[-1], tokens[0], tokens[-1], args.count_repeats
    )
    plain_sql = json.loads(
        plain_tool(plain_db, "count", tokens[0], str(args.count_repeats))
    )
    _harness.release_django()  # the servers get every connection slot we can spare

    pick = pickers(args.tenants, args.mid, args.zipf_s, args.seed)
    names = list(pick)
    load = Load(tokens, args.seed)
    runs: list[Run] = []
    sampler = _harness.ConnectionSampler(setup, interval=0.05)
    real = _http.Gunicorn(_http.service_env(), workers=args.workers)
    plain = _http.Gunicorn(
        plain_env(plain_db), app="plainapp.wsgi", workers=args.workers
    )
    with _http.running(real), _http.running(plain):
        sampler.start()
        sampler.ready.wait(5)
        try:
            for round_ in range(args.rounds):
                for clients in (1, args.clients):
                    # Rotate the order each round: drift hits every scenario alike.
                    order = names[round_ % len(names) :] + names[: round_ % len(names)]
                    for scenario in order:
                        runs.append(
                            one_run(
                                scenario,
                                names.index(scenario),
                                clients,
                                round_,
                                args,
                                setup,
                                load,
                                pick[scenario],
                                plain.port if scenario == names[0] else real.port,
                            )
                        )
            peak, _, samples = sampler.window()
        finally:
            sampler.stop()
    return {
        "runs": runs,
        "names": names,
        "tenant_sql": tenant_sql,
        "plain_sql": plain_sql,
        "provision_seconds": provision_seconds,
        "seed_seconds": seed_seconds,
        "peak_connections": peak,
        "samples": samples,
    }


def one_run(
    scenario: str,
    index: int,
    clients: int,
    round_: int,
    args: argparse.Namespace,
    setup: _harness.Setup,
    load: Load,
    pick: Callable[[random.Random], int],
    port: int,
) -> Run:
    salt = round_ * 1000 + clients * 10 + index
    load.run(port, pick, clients, args.warmup * clients, salt + 50_000)
    time.sleep(1.2)  # pg_stat_database counters are flushed about once a second
    before = _harness.sessions_opened(setup)
    cycles = args.cycles_1 if clients == 1 else args.cycles_n
    wall, latencies, errors, requests = load.run(port, pick, clients, cycles, salt)
    time.sleep(1.2)
    sessions = _harness.sessions_opened(setup) - before
    result = Run(scenario, clients, round_, requests, wall, latencies, sessions, errors)
    print(
        f"  round {round_ + 1} {clients} client(s) {scenario:>22}: "
        f"{result.throughput:6.1f} req/s, median "
        f"{_harness.ms(_harness.Stats.of(_flat(latencies)).median)}"
        f", connections opened {sessions}"
        + (f", {len(errors)} errors" if errors else ""),
        flush=True,
    )
    return result


def _flat(latencies: dict[str, list[float]]) -> list[float]:
    return [x for values in latencies.values() for x in values]


# --- report -------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    env: dict[str, str],
    pg_version: str,
    results: dict[str, Any],
) -> None:
    runs: list[Run] = results["runs"]
    names: list[str] = results["names"]
    plain_name, one_name = names[0], names[1]
    zipf_all = f"{args.tenants} tenants zipf"
    uniform_all = f"{args.tenants} tenants uniform"

    def of(scenario: str, clients: int) -> list[Run]:
        return [r for r in runs if r.scenario == scenario and r.clients == clients]

    def lat(scenario: str, clients: int, op: str | None = None) -> list[float]:
        return [
            x
            for r in of(scenario, clients)
            for o, values in r.latencies.items()
            if op is None or o == op
            for x in values
        ]

    def tput(scenario: str, clients: int) -> float:
        return _harness.Stats.of([r.throughput for r in of(scenario, clients)]).median

    def paired(scenario: str, base: str, clients: int) -> float:
        """Median over rounds of the ratio of throughputs within the round."""
        mine = {r.round: r.throughput for r in of(scenario, clients)}
        theirs = {r.round: r.throughput for r in of(base, clients)}
        return _harness.Stats.of([mine[k] / theirs[k] for k in mine]).median

    def paired_latency(scenario: str, base: str) -> float:
        """Median over rounds of the ratio of median latencies (1 client)."""
        mine = {r.round: _flat(r.latencies) for r in of(scenario, 1)}
        theirs = {r.round: _flat(r.latencies) for r in of(base, 1)}
        return _harness.Stats.of(
            [
                _harness.Stats.of(mine[k]).median / _harness.Stats.of(theirs[k]).median
                for k in mine
            ]
        ).median

    def opened(scenario: str, clients: int) -> float:
        rs = of(scenario, clients)
        return sum(r.sessions for r in rs) / max(1, sum(r.requests for r in rs))

    tables = []
    for clients in (1, args.clients):
        rows = []
        for scenario in names:
            all_lat = _harness.Stats.of(lat(scenario, clients))
            t = tput(scenario, clients)
            ts = [r.throughput for r in of(scenario, clients)]
            rows.append(
                [
                    scenario,
                    f"{t:.1f} ({min(ts):.0f}-{max(ts):.0f})",
                    f"{paired(scenario, plain_name, clients):.2f}x",
                    f"{paired(scenario, one_name, clients):.2f}x",
                    _harness.ms(all_lat.median),
                    _harness.ms(_harness.percentile(lat(scenario, clients), 99)),
                    "-"
                    if scenario == plain_name
                    else f"{opened(scenario, clients):.1%}",
                    sum(len(r.errors) for r in of(scenario, clients)),
                ]
            )
        tables.append(
            f"**{clients} client{'s' if clients > 1 else ''}** (requests/s: median "
            f"over {args.rounds} rounds, min-max; ratios: median over the rounds of "
            "the ratio within each round):\n\n"
            + _report.table(
                [
                    "scenario",
                    "requests/s",
                    "vs plain (paired)",
                    "vs 1 tenant (paired)",
                    "median",
                    "p99",
                    "requests opening a tenant connection",
                    "errors",
                ],
                rows,
            )
        )

    op_rows = []
    ratios_1: dict[str, float] = {}
    for op in _crudmix.OPS:
        row: list[object] = [op]
        for clients in (1, args.clients):
            for scenario in (plain_name, one_name, zipf_all):
                values = lat(scenario, clients, op)
                row.append(
                    f"{_harness.ms(_harness.Stats.of(values).median)} / "
                    f"{_harness.ms(_harness.percentile(values, 99))}"
                )
        plain_med = _harness.Stats.of(lat(plain_name, 1, op)).median
        one_med = _harness.Stats.of(lat(one_name, 1, op)).median
        ratios_1[op] = one_med / plain_med
        row.insert(3, f"{ratios_1[op]:.2f}x")
        op_rows.append(row)
    op_table = _report.table(
        [
            "op",
            "plain, 1 client",
            "1 tenant, 1 client",
            "1 tenant / plain",
            f"zipf {args.tenants}, 1 client",
            f"plain, {args.clients} clients",
            f"1 tenant, {args.clients} clients",
            f"zipf {args.tenants}, {args.clients} clients",
        ],
        op_rows,
    )

    tenant_sql, plain_sql = results["tenant_sql"], results["plain_sql"]
    sql_rows = []
    extra_sql = 0
    for op in _crudmix.OPS:
        warm = tenant_sql["warm"][op]
        registry = max(r for r, _ in warm)
        own = sorted({t for _, t in warm})
        plain_n = sorted(set(plain_sql[op]))
        cold_registry, cold_own = tenant_sql["cold"][op]
        extra_sql += registry + max(own) - max(plain_n)
        sql_rows.append(
            [
                op,
                "/".join(map(str, plain_n)),
                "/".join(map(str, own)),
                registry,
                f"{cold_registry} registry"
                + (f", {cold_own} tenant" if cold_own >= 0 else ""),
            ]
        )
    sql_table = _report.table(
        [
            "op",
            "plain: SQL",
            "tenant DB: SQL",
            "registry: SQL (warm)",
            "first cycle of a tenant not seen before",
        ],
        sql_rows,
    )

    one_1 = _harness.Stats.of(lat(one_name, 1)).median
    plain_1 = _harness.Stats.of(lat(plain_name, 1)).median
    t_ratio = paired(one_name, plain_name, args.clients)
    z_ratio = paired(zipf_all, one_name, args.clients)
    z_ratio_1 = paired(zipf_all, one_name, 1)
    lat_ratio_1 = paired_latency(one_name, plain_name)
    bound = args.workers * args.lru * args.pool_max
    worst_op = max(ratios_1, key=ratios_1.get)
    all_errors = [e for r in runs for e in r.errors]
    uniform_ratio = paired(uniform_all, one_name, args.clients)

    body = "\n".join(
        [
            "All requests over HTTP (one connection per request) from client threads "
            "of the bench process; each figure pools the rounds.",
            "",
            *(t + "\n" for t in tables),
            "Per operation, median / p99:",
            "",
            op_table,
            "",
            "SQL statements per request (in-process `django.test.Client` with "
            "`CaptureQueriesContext` on the registry and on the tenant alias; "
            f"{args.count_repeats} warm cycles each; the plain app counted the "
            "same way in its own process):",
            "",
            sql_table,
            "",
            f"Peak tenant connections in pg_stat_activity during the HTTP runs: "
            f"{results['peak_connections']} (bound {args.workers} workers x "
            f"LRU {args.lru} x pool {args.pool_max} = {bound}; "
            f"{results['samples']} samples).",
            f"Provisioning {args.tenants} tenants took "
            f"{results['provision_seconds']:.0f}s, seeding them "
            f"{results['seed_seconds']:.0f}s.",
            "",
            "Errors: "
            + ("none." if not all_errors else f"{len(all_errors)}: {all_errors[:5]}"),
        ]
    )
    print()
    print(*tables, sep="\n\n")
    print()
    print(op_table)
    print()
    print(sql_table)
    print(body.splitlines()[-5:])

    lru_note = (
        f"LRU {args.lru} per worker (not 100: {args.workers} workers x "
        f"{args.lru} x pool {args.pool_max} must fit this server's "
        "100 connections)"
    )
    verdicts = [
        _report.Verdict(
            target="member create / read / list (page of 20) / update / delete, "
            "one client",
            spec="median <= 1.15x a single fixed database",
            measured=(
                "1 tenant vs plain single-DB Django+DRF, per op: "
                + ", ".join(f"{op} {r:.2f}x" for op, r in ratios_1.items())
                + f" (all ops pooled: {_harness.ms(one_1)} vs {_harness.ms(plain_1)};"
                f" paired per-round ratio of medians {lat_ratio_1:.2f}x)"
            ),
            verdict=(
                "met"
                if max(ratios_1.values()) <= 1.15
                else f"not met (worst: {worst_op} {ratios_1[worst_op]:.2f}x)"
            ),
        ),
        _report.Verdict(
            target="no extra SQL per request for routing",
            spec="0 extra statements",
            measured=(
                f"warm: registry 0, tenant DB = plain per op; sum of extra over "
                f"the 5 ops: {extra_sql}"
                if extra_sql == 0
                else f"sum of extra statements over the 5 ops: {extra_sql}"
            ),
            verdict="met" if extra_sql == 0 else "not met",
        ),
        _report.Verdict(
            target=f"the same at {args.clients} concurrent clients, "
            f"{args.workers} gunicorn workers",
            spec="throughput >= 0.9x single database",
            measured=(
                f"1 tenant {tput(one_name, args.clients):.0f} req/s vs plain "
                f"{tput(plain_name, args.clients):.0f} req/s (medians); paired "
                f"per-round ratio {t_ratio:.2f}x"
            ),
            verdict="met" if t_ratio >= 0.9 else "not met",
        ),
        _report.Verdict(
            target=f"the same CRUD mix over {args.tenants} tenants, Zipf s=1",
            spec="throughput >= 0.8x the one-tenant figure (LRU 100)",
            measured=(
                f"{args.clients} clients: {z_ratio:.2f}x (paired) "
                f"({tput(zipf_all, args.clients):.0f} vs "
                f"{tput(one_name, args.clients):.0f} req/s); 1 client "
                f"{z_ratio_1:.2f}x; {lru_note}"
            ),
            verdict=("met" if z_ratio >= 0.8 else "not met")
            + f" (with LRU {args.lru})",
        ),
        _report.Verdict(
            target=f"the same CRUD mix over {args.tenants} tenants, uniform",
            spec="reported, with the share of requests that opened a connection",
            measured=(
                f"{args.clients} clients: {tput(uniform_all, args.clients):.0f} "
                f"req/s ({uniform_ratio:.2f}x "
                f"1 tenant), {opened(uniform_all, args.clients):.0%} of requests "
                f"opened a connection; 1 client {opened(uniform_all, 1):.0%}"
            ),
            verdict=f"reported (LRU {args.lru})",
        ),
    ]
    config = [
        f"code: {args.code}",
        f"two gunicorn servers, {args.workers} sync workers each, started and "
        "stopped by the script: `config.wsgi` (the real app) and "
        "`plainapp.wsgi` (bench/plainapp: a plain single-database Django+DRF app "
        "with the same member tables, indexes, serializer, view and middleware "
        "minus the tenant middleware; JWT checked statelessly)",
        f"real app: registry `{setup.registry}`, tenant prefix `{setup.prefix}`, "
        f"TENANT_CONNECTION_LRU_SIZE={args.lru}, TENANT_POOL_MAX_SIZE="
        f"{args.pool_max} — {lru_note}; Redis cache `{env['REDIS_URL']}` prefix "
        f"`{env['CACHE_KEY_PREFIX']}`; DEBUG=false, RATE_LIMITS=off",
        f"plain app: database `{setup.registry}_plain`, Django's psycopg pool "
        "(min 1, max 4) like the real app's registry",
        f"{args.tenants} tenants (each {args.members} members, half tagged), one "
        "owner and one access token per tenant",
        "a cycle = create (with a tag), read, list `?page_size=20`, update "
        "(PATCH last_name, notes), delete; the tenant is picked per cycle: "
        f"Zipf s={args.zipf_s} over a fixed random ranking, or uniform",
        f"{args.rounds} rounds; per round and scenario {args.warmup} warm-up "
        f"cycles per client, then {args.cycles_1} cycles (1 client) or "
        f"{args.cycles_n} cycles ({args.clients} clients)",
        '"requests opening a tenant connection": sessions opened on the tenant '
        "databases (pg_stat_database) during the measured part / its requests",
    ]
    if not args.no_report:
        _report.write_section(
            "crud",
            title="Member CRUD over HTTP, tenant vs single database (`bench/crud.py`)",
            pg_version=pg_version,
            config=config,
            body=body,
            verdicts=verdicts,
        )
        print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


if __name__ == "__main__":
    main()
