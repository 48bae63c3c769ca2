"""Member CRUD over HTTP: database-per-tenant against a single fixed database.

Three gunicorn servers (`--workers` sync workers each) run side by side: the
real app on PostgreSQL + Redis (JSON logs, metrics) with
`TENANT_CONNECTION_LRU_SIZE=--lru`; `bench.plainapp`, a plain single-database
Django + DRF app with the same member tables, indexes, serializer, view,
pagination and middleware (minus the tenant and telemetry middleware; JWT
checked statelessly); and `bench.schemaapp`, the same through django-tenants
(a schema per tenant, picked by the Host header); the last two each on a
database of its own. Each client repeats a cycle on one member: create (with a
tag), read, list `?page_size=20`, update, delete. Scenarios: the plain app; the
real app with every request to one tenant (the same-code single-database
baseline), then spread over `--mid` and over all tenants, Zipf-skewed (s = 1)
and uniform, the tenant picked per cycle; django-tenants at 1 tenant and
Zipf-skewed over both spreads. Each runs with 1 client and with `--clients`,
interleaved over rounds (the order rotating); ratios are medians over the
rounds of the ratio within each round. "opening a tenant connection" is the
sessions opened on the tenant databases (pg_stat_database) per request. In
process (django.test.Client): SQL statements per request (CaptureQueriesContext;
the plain app's in its own process; "cold" is a tenant's first cycle in the
process), and the telemetry's cost (alternating cycles with and without
`RequestMiddleware` and its JSON access line to a file).

With `--pooler`, tenant connections go through a PgBouncer the bench starts
(transaction pooling, `--pool-size` server connections per tenant database,
idle ones closed after `--server-idle` s; up to `--lru` client connections per
worker), "opening a tenant connection" counting the server connections it
opened (results: crud-pgbouncer.json). With `--cluster=N`, the run is on a
PostgreSQL cluster of its own with `max_connections = N` (crud-cluster.json).
With `--affinity`, each app is served by `--workers` single-worker gunicorns
behind HAProxy with the shipped deploy/haproxy.cfg, which sends each church's
requests to one of them (results: the name with `-affinity`); the plain app's
and django-tenants' requests all carry one token, so only its bounded load
spreads them. `--prewarm N` runs N cycles per tenant on both routed apps first.
"""

import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import cycle, harness, product, report
from bench.client import Client
from bench.sampler import ConnectionSampler
from bench.servers import on_own_cluster, running, served

PLAIN, ONE = "plain single DB", "1 tenant"
PEER = "django-tenants"  # the schema-per-tenant scenarios' prefix
phones: dict[int, int] = defaultdict(int)  # numbers used so far, by client thread i


def app_env(app: str, database: str) -> dict[str, str]:
    """The environment of `bench.APP` (plainapp, schemaapp) on a database of its own."""
    return harness.service_env(
        DJANGO_SETTINGS_MODULE=f"bench.{app}.settings",
        PLAIN_DATABASE_URL=f"{harness.SERVER_URL}/{database}",
    )


def app_tool(app: str, env: dict[str, str], *argv: str, timeout: int = 600) -> str:
    """`python -m bench.APP ARGV...`: its output (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{app}", *argv],
        cwd=harness.ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"bench.{app} {argv[0]}: {done.stderr[-2000:]}")
    return done.stdout


def count_tenant_sql(tenants: list[Any], tokens: list[str], repeats: int) -> dict:
    """SQL per op on the registry and the tenant database: warm, then cold."""
    warm, cold = tenants[0], tenants[-1]
    cycle.count_sql(tokens[0], [], 1, space=98)  # registers the alias
    counts = cycle.count_sql(tokens[0], ["default", warm.alias], repeats, space=98)
    # A tenant this process has not seen: its row is not cached, no alias yet.
    product.lookup.invalidate_tenant(cold.id)
    product.lookup._servers.clear()
    product.connections.forget(cold.alias)
    first = cycle.count_sql(tokens[-1], ["default", cold.alias], 1, space=97)
    harness.release_django()
    return {"warm": counts, "cold": {op: seen[0] for op, seen in first.items()}}


def telemetry_cost(token: str, rounds: int, cycles: int) -> list[float]:
    """Seconds per request, telemetry on minus off, a round each: two in-process
    clients, one without `RequestMiddleware` and its JSON access line (to a file)."""
    from django.conf import settings
    from django.test import Client, override_settings

    access, log = logging.getLogger("churchtext.access"), tempfile.mkstemp()[1]
    access.propagate = False  # its one handler: JSON lines to a file, as in production
    access.addHandler(logging.FileHandler(log))
    access.handlers[-1].setFormatter(product.JsonFormatter())
    clients = [Client(headers={"authorization": f"Bearer {token}"}) for _ in "ab"]

    def send(method: str, path: str, body: Any) -> tuple[int, Any, float]:
        answer = clients[on].generic(method, path, json.dumps(body), "application/json")
        return answer.status_code, answer.json() if answer.content else None, 0.0

    with override_settings(MIDDLEWARE=settings.MIDDLEWARE[1:]):  # telemetry is first
        clients[0].get("/healthz")  # off: a client builds its middleware chain once
    costs = []
    for r in range(rounds + 1):  # the first round warms up
        took = [0.0, 0.0]
        for i in range(2 * cycles):
            on = (i + i // 2) % 2  # off, on, on, off, off, on...
            access.setLevel(logging.INFO if on else logging.WARNING)
            phone = cycle.cycle_phone(60 + r, i)
            took[on] += harness.clock(cycle.cycle, send, phone)[1]
        costs.append((took[1] - took[0]) / (5 * cycles))
    return costs[1:]


def load(port: int, tokens: list[str], pick: Any, clients: int, cycles: int, salt: int,
         hosts: list[str] | None = None):  # fmt: skip
    """`cycles` cycles from `clients` threads: (wall, op -> latencies, errors).
    With `hosts`, the pick names the tenant by its Host header (django-tenants)."""
    latencies: dict[str, list[float]] = {op: [] for op in cycle.OPS}
    errors: list[str] = []
    share = harness.shares(cycles, clients)

    def work(i: int) -> None:
        rng, http = random.Random(salt * 101 + i), Client(port)

        def send(method: str, path: str, body: Any) -> tuple[int, Any, float]:
            answer = http.request(method, path, body, token=token, headers=host)
            return answer.status, answer.json(), answer.seconds

        for _ in range(share[i]):
            picked = pick(rng)
            token = tokens[0 if hosts else picked]
            host = {"Host": hosts[picked]} if hosts else None
            phones[i] += 1  # only thread i of a load() counts here
            try:
                took = cycle.cycle(send, cycle.cycle_phone(i, phones[i]))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            for op, seconds in took.items():
                latencies[op].append(seconds)

    wall = harness.run_clients(clients, work)
    return wall, latencies, errors


def one_run(args: Any, setup: Any, port: int, tokens: list[str], pick: Any,
            clients: int, salt: int, hosts: list[str] | None) -> dict:  # fmt: skip
    """Warm-up cycles, then the measured ones with the sessions they opened."""
    load(port, tokens, pick, clients, args.warmup * clients, salt + 50_000, hosts)
    cycles = args.cycles_1 if clients == 1 else args.cycles_n
    (wall, latencies, errors), opened = harness.opening_sessions(
        setup, load, port, tokens, pick, clients, cycles, salt, hosts
    )
    requests = sum(map(len, latencies.values()))
    return {"rate": requests / wall, "latencies": latencies, "opened": opened,
            "requests": requests, "errors": errors}  # fmt: skip


def scenarios(args: Any) -> dict[str, Any]:
    n, mid, s = args.tenants, args.mid, args.zipf_s
    return {
        PLAIN: lambda rng: 0,
        ONE: lambda rng: 0,
        f"{mid} tenants zipf": harness.zipf(mid, s, args.seed + 1),
        f"{mid} tenants uniform": lambda rng: rng.randrange(mid),
        f"{n} tenants zipf": harness.zipf(n, s, args.seed + 2),
        f"{n} tenants uniform": lambda rng: rng.randrange(n),
        f"{PEER} 1 tenant": lambda rng: 0,
        f"{PEER} {mid} zipf": harness.zipf(mid, s, args.seed + 1),
        f"{PEER} {n} zipf": harness.zipf(n, s, args.seed + 2),
    }


def measure(args: Any, setup: harness.Setup) -> dict[str, Any]:
    plain_db, schema_db = f"{setup.registry}_plain", f"{setup.registry}_schema"
    plain_env = app_env("plainapp", plain_db)
    schema_env = app_env("schemaapp", schema_db)
    started = time.perf_counter()
    tenants, _ = harness.provision_many(args.tenants, label="Bench CRUD Church")
    provisioned = time.perf_counter() - started
    rows = cycle.seed_rows(args.members)
    tagged = {i: "seeded" for i in range(0, args.members, 2)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda t: harness.add_members(t, rows, tagged), tenants))
    seeded = time.perf_counter() - started - provisioned
    tokens = [o["access"] for o in harness.add_owners(tenants, one_user=True)]
    for db in (plain_db, schema_db):
        harness.drop_database(db)
        with harness.pg() as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        sizes = str(args.tenants), str(args.members)
        _, schemas_made = harness.clock(
            app_tool, "schemaapp", schema_env, "setup", *sizes, timeout=3600
        )
        app_tool("plainapp", plain_env, "migrate")
        app_tool("plainapp", plain_env, "seed", str(args.members))
        repeats = str(args.count_repeats)
        plain_sql = app_tool("plainapp", plain_env, "count", tokens[0], repeats)
        measured = {"telemetry": telemetry_cost(tokens[0], args.telemetry_rounds, 100),
                    "tenant_sql": count_tenant_sql(tenants, tokens, args.count_repeats),
                    "plain_sql": json.loads(plain_sql), "provisioned": provisioned,
                    "seeded": seeded, "schemas": schemas_made, "runs": []}  # fmt: skip
        picks = scenarios(args)
        names = list(picks)
        wsgi, n = "django.core.wsgi:get_wsgi_application()", args.workers
        real = served(harness.service_env(), "config.wsgi", n, args.affinity)
        plain = served(plain_env, wsgi, n, args.affinity)
        peer = served(schema_env, wsgi, n, args.affinity)
        hosts = [f"t{i}.bench" for i in range(args.tenants)]
        sampler = ConnectionSampler(setup, interval=0.05)
        with running(*real, *plain, *peer):
            n = len(tokens)  # --prewarm: each tenant in turn
            for front, by_host in ((real, None), (peer, hosts)) if args.prewarm else ():
                turn = iter(range(n * args.prewarm))
                failed = load(front[-1].port, tokens, lambda _, t=turn: next(t) % n, 4,
                              n * args.prewarm, 7, by_host)[2]  # fmt: skip
                if failed:
                    raise RuntimeError(f"prewarm: {failed[:3]}")
            sampler.begin()
            for round_ in range(args.rounds):
                for clients in (1, args.clients):
                    # Rotate the order each round: drift hits every scenario alike.
                    k = round_ % len(names)
                    for name in names[k:] + names[:k]:
                        by_host = hosts if name.startswith(PEER) else None
                        front = peer if by_host else plain if name == PLAIN else real
                        port = front[-1].port
                        salt = args.seed * 10**6 + round_ * 1000 + clients * 10
                        run = one_run(args, setup, port, tokens, picks[name], clients,
                                      salt + names.index(name), by_host)  # fmt: skip
                        run |= {"scenario": name, "clients": clients, "round": round_}
                        measured["runs"].append(run)
                        print(f"  round {round_ + 1}, {clients} client(s), {name}: "
                              f"{run['rate']:.1f} req/s", flush=True)  # fmt: skip
            sampler.stop()
    finally:
        for db in (plain_db, schema_db):
            harness.drop_database(db)
    return measured | {"names": names, "peak": sampler.peak, "samples": sampler.samples}


def summarise(args: Any, m: dict[str, Any]) -> tuple[dict[str, Any], list[dict]]:
    runs, names, n = m["runs"], m["names"], args.clients
    zipf, uniform = f"{args.tenants} tenants zipf", f"{args.tenants} tenants uniform"
    by_scenario = defaultdict(list)  # (scenario, clients) -> its runs, one per round
    for r in runs:
        by_scenario[r["scenario"], r["clients"]].append(r)

    def lat(name: str, clients: int, op: str | None = None) -> list[float]:
        return [x for r in by_scenario[name, clients] for o, v in r["latencies"].items()
                if op in (None, o) for x in v]  # fmt: skip

    def rates(name: str, clients: int) -> list[float]:
        return [r["rate"] for r in by_scenario[name, clients]]

    def rate(name: str, clients: int) -> float:
        return harness.median(rates(name, clients))

    def paired(name: str, base: str, clients: int) -> float:
        theirs = {r["round"]: r["rate"] for r in by_scenario[base, clients]}
        ratios = [r["rate"] / theirs[r["round"]] for r in by_scenario[name, clients]]
        return round(harness.median(ratios), 2)

    def opened(name: str, clients: int) -> float | None:  # None: not a tenant
        rs = by_scenario[name, clients]
        share = sum(r["opened"] for r in rs) / max(1, sum(r["requests"] for r in rs))
        return None if name == PLAIN else round(100 * share, 1)

    results: dict[str, Any] = {}
    for clients in (1, n):
        results[f"{clients} client(s): requests/s (median over rounds, min, max)"] = [
            {"scenario": name, "requests/s": round(rate(name, clients), 1),
             "min": round(min(rates(name, clients))),
             "max": round(max(rates(name, clients))),
             "vs plain (paired)_x": paired(name, PLAIN, clients),
             "vs 1 tenant (paired)_x": paired(name, ONE, clients),
             **harness.stats(lat(name, clients), "median p99", n=False),
             "opening a tenant connection_pct": opened(name, clients),
             "errors": sum(len(r["errors"]) for r in by_scenario[name, clients])}
            for name in names
        ]  # fmt: skip
    median = harness.median
    ratios = {op: round(median(lat(ONE, 1, op)) / median(lat(PLAIN, 1, op)), 2)
              for op in cycle.OPS}  # fmt: skip
    results["per operation"] = []
    columns = [(PLAIN, PLAIN), (ONE, ONE), (f"zipf {args.tenants}", zipf)]
    for op in cycle.OPS:
        for clients in (1, n):
            row: dict[str, Any] = {"op": op, "clients": clients}
            for label, name in columns:
                latencies, prefix = lat(name, clients, op), f"{label} "
                row |= harness.stats(latencies, "median p99", n=False, prefix=prefix)
            if clients == 1:
                row["1 tenant / plain_x"] = ratios[op]
            results["per operation"].append(row)
    warm, cold, plain = m["tenant_sql"]["warm"], m["tenant_sql"]["cold"], m["plain_sql"]
    results["SQL statements per request"] = [
        {"op": op, "plain": "/".join(map(str, sorted(set(plain[op])))),
         "tenant DB": "/".join(str(t) for t in sorted({t for _, t in warm[op]})),
         "registry (warm)": max(r for r, _ in warm[op]),
         "cold: registry": cold[op][0], "cold: tenant DB": cold[op][1]}
        for op in cycle.OPS
    ]  # fmt: skip
    extra = sum(
        max(r for r, _ in warm[op]) + max(t for _, t in warm[op]) - max(plain[op])
        for op in cycle.OPS
    )
    results["run"] = {
        "peak tenant connections (pg_stat_activity)": m["peak"],
        "bound (workers x LRU)": args.workers * args.lru,
        "server max_connections": int(harness.pg_value("SHOW max_connections")),
        "samples": m["samples"],
        "provisioning_s": round(m["provisioned"]),
        "seeding_s": round(m["seeded"]),
        "django-tenants schemas made_s": round(m["schemas"]),
        "errors (first 5)": [e for r in runs for e in r["errors"]][:5],
    }
    cost = round(median(m["telemetry"]) * 1000, 3)
    results["telemetry per request (in process, on - off, median of rounds)_ms"] = cost
    one, base = median(lat(ONE, 1)), median(lat(PLAIN, 1))
    mid = args.mid
    spreads = [(ONE, f"{PEER} 1 tenant"), (f"{mid} tenants zipf", f"{PEER} {mid} zipf"),
               (zipf, f"{PEER} {args.tenants} zipf")]  # fmt: skip
    versus = {c: [paired(ours, theirs, c) for ours, theirs in spreads] for c in (1, n)}

    worst = max(ratios, key=ratios.get)
    t_ratio, z_ratio = paired(ONE, PLAIN, n), paired(zipf, ONE, n)
    targets = [
        report.target(
            "member create / read / list (page of 20) / update / delete, one client",
            "median <= 1.10x a single fixed database",
            "1 tenant vs plain single-DB Django+DRF, per op: "
            + ", ".join(f"{op} {r}x" for op, r in ratios.items())
            + f" (all ops pooled: {one * 1000:.1f} ms vs {base * 1000:.1f} ms; "
            f"worst: {worst} {ratios[worst]}x)", (ratios[worst], "<=", 1.10)),
        report.target("no extra SQL per request for routing", "0 extra statements",
            f"warm: sum over the 5 ops of registry + tenant DB - plain: {extra}",
            (extra, "==", 0)),
        report.target(
            f"the same at {n} concurrent clients, {args.workers} gunicorn workers",
            "throughput >= 0.9x single database", f"1 tenant {rate(ONE, n):.0f} req/s"
            f" vs plain {rate(PLAIN, n):.0f} req/s (medians); paired per-round ratio "
            f"{t_ratio}x", (t_ratio, ">=", 0.9)),
        report.target(f"the same CRUD mix over {args.tenants} tenants, Zipf s=1",
            "throughput >= 0.8x the one-tenant figure (LRU 100)",
            f"{n} clients: {z_ratio}x (paired) ({rate(zipf, n):.0f} vs "
            f"{rate(ONE, n):.0f} req/s); 1 client {paired(zipf, ONE, 1)}x",
            (z_ratio, ">=", 0.8), note=f"with LRU {args.lru}"),
        report.target("the same CRUD mix through django-tenants (schema per tenant)",
            "our throughput >= django-tenants' at every spread",
            f"ours / django-tenants (paired) at 1, {mid} and {args.tenants} tenants "
            f"(Zipf): {n} clients {versus[n]}, 1 client {versus[1]}",
            *((x, ">=", 1.0) for c in (1, n) for x in versus[c])),
        report.target("metrics and JSON logs", "<= 0.2 ms a request", f"{cost} ms "
            f"(median of {len(m['telemetry'])} paired rounds)", (cost, "<=", 0.2)),
        report.target(f"the same CRUD mix over {args.tenants} tenants, uniform",
            "reported, with the share of requests that opened a connection",
            f"{n} clients: {rate(uniform, n):.0f} req/s ({paired(uniform, ONE, n)}x 1 "
            f"tenant), {opened(uniform, n)}% of requests opened a connection; 1 client "
            f"{opened(uniform, 1)}%", note=f"LRU {args.lru}"),
    ]  # fmt: skip
    return results, targets


def main() -> None:
    parser = harness.arguments(__doc__, "tenants workers clients zipf_s seed", lru=35)
    add = parser.add_argument
    add("--mid", type=int, default=100, help="the middle spread")
    add("--cycles-1", type=int, default=40, help="per round, 1 client")
    add("--cycles-n", type=int, default=120, help="per round, N clients")
    add("--warmup", type=int, default=4, help="warm-up cycles/client")
    add("--rounds", type=int, default=8)
    add("--members", type=int, default=25, help="seeded per tenant")
    add("--count-repeats", type=int, default=5)
    add("--telemetry-rounds", type=int, default=20, help="of 100 cycles, in process")
    add("--pooler", action="store_true", help="through PgBouncer")
    add("--pool-size", type=int, default=1, help="with --pooler")
    add("--server-idle", type=int, default=2, help="with --pooler")
    add("--cluster", type=int, help="own cluster's max_connections")
    add("--affinity", action="store_true", help="each church to one worker (HAProxy)")
    add("--prewarm", type=int, default=0, help="cycles per tenant before the rounds")
    args = parser.parse_args()
    if args.cluster and harness.PORT == 5432:
        on_own_cluster(args.cluster)
        return
    room = int(harness.pg_value("SHOW max_connections")) - 20
    if args.workers * args.lru > room and not args.pooler:
        parser.error(f"workers x lru: keep it at {room} (max_connections - 20)")
    if args.mid > args.tenants or args.members < 20:
        parser.error("--mid must not exceed --tenants; --members: at least 20")
    env = {"TENANT_CONNECTION_LRU_SIZE": str(args.lru), "LOG_FORMAT": "json"}
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()  # before it loads
    name, bouncer = "crud" if harness.PORT == 5432 else "crud-cluster", None
    if args.pooler:
        name = "crud-pgbouncer"
        bouncer = product.PgBouncer(("127.0.0.1", harness.PORT), "postgres",
            pool_size=args.pool_size, server_idle_timeout=args.server_idle,
            max_client_conn=args.workers * args.lru + 200)  # fmt: skip
        bouncer.start()
        env["TENANT_DB_SERVERS"] = bouncer.url_of(harness.SERVER_URL)
    name += "-affinity" if args.affinity else ""
    try:
        label = "crudpool" if args.pooler else "crud"
        with harness.run(setup := harness.Setup(label, env, web=True)):
            measured = measure(args, setup)
    finally:
        if bouncer is not None:
            bouncer.close()
    report.save(name, args, *summarise(args, measured))


if __name__ == "__main__":
    main()
