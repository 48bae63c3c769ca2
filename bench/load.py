"""Churn/soak run over many tenants, then fault injection: one command, self-stopping.

    .venv/bin/python bench/load.py [--tenants 1000] [--duration 600] [--scenarios all]

Setup (all of it removed at the end, also on failure or Ctrl-C): its own
registry database and tenant prefix (bench/_harness.py); its own redis-server
on a spare port (cache and revocations on db 0, Celery's broker on db 1); a
second PostgreSQL cluster (pg_createcluster, trust auth) on a spare port, both
servers in TENANT_DB_SERVERS; a FakeTwilio (tests/fakes.py) as the SMS
provider (SMS_BACKEND=twilio, signed webhooks); gunicorn `config.wsgi`
(--workers, sync), a Celery worker and a Celery beat (the sweep every 5 s).

--tenants churches are provisioned in-process, each with an owner (password
login), an access/refresh token pair, a sending number and --members members.
Then --clients threads send a mix of requests (members list/search/create/
update/delete, templates, small broadcasts, inbound webhooks and delivery
receipts signed like Twilio's, conversation replies, logins, token refreshes)
to tenants picked with Zipf popularity (s = --zipf-s), for --duration seconds
(or --max-requests), while a sampler records PostgreSQL connections per server
and per process and the RSS of every gunicorn worker.

Fault scenarios (--scenarios, default all), each with the same mix running:
  redis    Redis stopped for --outage s, then started again (empty)
  dbdown   the second PostgreSQL cluster stopped for --outage s, then started
  celery   the Celery worker SIGKILLed mid-broadcast (--broadcast-size
           recipients, FakeTwilio slowed to --twilio-delay s per message),
           a new worker started
  webkill  one gunicorn worker SIGKILLed

Results: a table on the terminal, docs/load.json, docs/load.png and the
`load` section of docs/benchmarks.md (--no-report: none of the three in docs/).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.fakes

import _harness  # noqa: E402
import _http  # noqa: E402
import _load_mix as mixlib  # noqa: E402
import _load_services as svc  # noqa: E402
import _report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["redis", "dbdown", "celery", "webkill"]
WINDOW = 10.0  # seconds per latency window (plot, JSON)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--members", type=int, default=5, help="seeded per tenant")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=600, help="churn seconds")
    parser.add_argument(
        "--max-requests", type=int, default=500_000, help="per phase, at most"
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="default: 20%% of --duration"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--lru", type=int, default=15, help="tenant aliases/process")
    parser.add_argument("--pool-max", type=int, default=1, help="pool max per alias")
    parser.add_argument("--celery-lru", type=int, default=5)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument(
        "--scenarios", default="all", help=f"all, none, or some of {SCENARIOS}"
    )
    parser.add_argument("--scenario-duration", type=float, default=150)
    parser.add_argument("--fault-at", type=float, default=30, help="s into a scenario")
    parser.add_argument("--outage", type=float, default=60, help="Redis/DB down, s")
    parser.add_argument("--broadcast-size", type=int, default=300)
    parser.add_argument("--twilio-delay", type=float, default=0.05)
    parser.add_argument("--zipf-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--provision-threads", type=int, default=4)
    parser.add_argument(
        "--others-limit",
        type=int,
        default=40,
        help="wait while other users hold more connections on the main server",
    )
    parser.add_argument("--wait-max", type=float, default=3600)
    parser.add_argument("--registry", default="churchtext_bench_load")
    parser.add_argument("--prefix", default="bench_load_")
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="write nothing into docs/ (JSON and plot go to a temporary directory)",
    )
    args = parser.parse_args()
    if args.scenarios == "all":
        args.scenario_list = list(SCENARIOS)
    elif args.scenarios == "none":
        args.scenario_list = []
    else:
        args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s]
        unknown = set(args.scenario_list) - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios {sorted(unknown)}; known: {SCENARIOS}")
    if args.warmup is None:
        args.warmup = max(10.0, 0.2 * args.duration)
    if args.fault_at + args.outage >= args.scenario_duration - 10:
        parser.error("--scenario-duration must leave 10 s after --fault-at + --outage")
    if args.tenants < 10:
        parser.error("--tenants: at least 10")
    if args.members < 3:
        parser.error("--members: at least 3")
    return args


def connection_budget(args: argparse.Namespace) -> dict[str, int]:
    """Worst case per server: every process full of tenant and registry connections."""
    web = args.workers * args.lru * args.pool_max
    celery = args.celery_concurrency * args.celery_lru * args.pool_max
    registry = (args.workers + args.celery_concurrency) * 4
    return {"web": web, "celery": celery, "registry": registry}


# --- main ---


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    from tests.fakes import FakeTwilio

    limit = svc.max_connections(5432)
    budget = connection_budget(args)
    if sum(budget.values()) > limit - args.others_limit:
        sys.exit(
            f"connection budget {budget} = {sum(budget.values())} does not fit "
            f"max_connections={limit} minus {args.others_limit} for other users"
        )
    stale = svc.drop_stale_clusters()
    if stale:
        print(f"dropped clusters of earlier runs: {stale}")
    redis = svc.RedisServer()
    cluster = svc.PostgresCluster()
    fake = FakeTwilio(account_sid="AC" + "1" * 32, token="load-twilio-token").start()
    results: dict[str, Any] | None = None
    try:
        print(
            f"redis-server on :{redis.port}; pg cluster {cluster.name} on "
            f":{cluster.port}; FakeTwilio at {fake.url}",
            flush=True,
        )
        redis.start()
        cluster.create()
        env = _http.bench_env(
            "load",
            REDIS_URL=redis.url(0),
            CACHE_KEY_PREFIX="bench_load",
            CELERY_BROKER_URL=redis.url(1),
            TENANT_CONNECTION_LRU_SIZE=str(args.lru),
            TENANT_POOL_MAX_SIZE=str(args.pool_max),
            REGISTRY_POOL_MAX_SIZE="4",
            SMS_BACKEND="twilio",
            TWILIO_ACCOUNT_SID=fake.account_sid,
            TWILIO_AUTH_TOKEN=fake.token,
            TWILIO_API_BASE_URL=fake.url,
            SMS_RATE_PER_NUMBER="0",
            SMS_STALE_SENDING_SECONDS="5",
            SMS_SWEEP_SECONDS="5",
            CELERY_VISIBILITY_TIMEOUT="30",
            TENANT_DB_SERVERS=f"{_harness.SERVER_URL},{cluster.url}",
        )
        setup = _harness.Setup(
            registry=args.registry, prefix=args.prefix, extra_env=env
        )
        _harness.configure(setup)
        pg_version = _harness.pg_version()
        with _harness.benchmark_run(setup):
            results = run(args, setup, env, redis, cluster, fake)
    finally:
        fake.stop()
        redis.close()
        cluster.drop()
        print(f"stopped redis-server and FakeTwilio; dropped cluster {cluster.name}")
    try:
        report(args, setup, env, pg_version, limit, results)
    except Exception:
        import pickle

        dump = Path(tempfile.mkstemp(prefix="bench-load-results-", suffix=".pickle")[1])
        dump.write_bytes(pickle.dumps(results))
        print(f"report failed; raw results kept in {dump}")
        raise


# --- setup ---


def wait_for_room(args: argparse.Namespace, setup: _harness.Setup, what: str) -> int:
    """Wait while other users hold more than --others-limit main-server sessions."""
    started = time.monotonic()
    while True:
        others = svc.others_on_main(setup.like, setup.registry)
        if others <= args.others_limit:
            return others
        waited = time.monotonic() - started
        if waited > args.wait_max:
            print(
                f"  {what}: still {others} other sessions after {waited:.0f}s; "
                "going on anyway",
                flush=True,
            )
            return others
        print(
            f"  {what}: other users hold {others} connections on the main "
            f"server (> {args.others_limit}); waiting ...",
            flush=True,
        )
        time.sleep(15)


def provision(args: argparse.Namespace) -> tuple[list[Any], Any, float]:
    from tenants.models import DatabaseServer
    from tenants.provisioning import provision_tenant

    started = time.perf_counter()
    tenants, _ = _harness.provision_many(
        args.tenants, threads=args.provision_threads, label="Load Church"
    )
    tenants.sort(key=lambda t: t.created_at)
    big = None
    if "celery" in args.scenario_list:
        main_server = DatabaseServer.objects.get(url=_harness.SERVER_URL)
        big = provision_tenant(name="Load Broadcast Church", server=main_server)
    return tenants, big, time.perf_counter() - started


def _server_of(tenant: Any, second_port: int) -> tuple[str, int]:
    from urllib.parse import urlsplit

    port = urlsplit(tenant.server.url).port or 5432
    return ("second" if port == second_port else "main"), port


def prepare(
    args: argparse.Namespace, tenants: list[Any], big: Any, second_port: int
) -> tuple[list[mixlib.TenantState], dict[str, Any] | None, float]:
    """Owners, tokens, numbers and members, in-process; then let go of every alias."""
    from django.contrib.auth.hashers import make_password
    from django.db import connections as django_connections
    from tenants.auth import issue_tokens
    from tenants.church import update_church

    from members.models import Member
    from tenants import connections
    from tenants.context import tenant_context
    from tenants.models import Membership, User

    started = time.perf_counter()
    hashed = make_password(mixlib.PASSWORD)
    everyone = [*tenants, *([big] if big is not None else [])]
    users = User.objects.bulk_create(
        [
            User(email=f"owner{i}@bench-load.example.org", password=hashed)
            for i in range(len(everyone))
        ],
        batch_size=500,
    )
    Membership.objects.bulk_create(
        [
            Membership(user=u, tenant=t, role=Membership.Role.OWNER)
            for u, t in zip(users, everyone, strict=True)
        ],
        batch_size=500,
    )
    numbers = [
        f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}" for i in range(len(everyone))
    ]

    def one(i: int) -> tuple[list[str], list[str]]:
        tenant = everyone[i]
        try:
            update_church(tenant=tenant, phone_number=numbers[i], quiet_hours=None)
            count = args.broadcast_size if tenant is big else args.members
            area = "718" if tenant is big else "212"
            phones = [
                f"+1{area}{200 + n // 10_000:03d}{n % 10_000:04d}" for n in range(count)
            ]
            rows = [
                Member(
                    first_name=["Anna", "Ben", "Carla", "David"][n % 4],
                    last_name=f"Seed{n}",
                    phone=phone,
                    email=f"seed{n}@example.org",
                )
                for n, phone in enumerate(phones)
            ]
            with tenant_context(tenant):
                Member.objects.bulk_create(rows, batch_size=1000)
            return [str(m.id) for m in rows], phones
        finally:
            connections.forget(tenant.alias)
            django_connections.close_all()

    with ThreadPoolExecutor(max_workers=args.provision_threads) as pool:
        seeded = list(pool.map(one, range(len(everyone))))
    states = []
    for i, tenant in enumerate(tenants):
        tokens = issue_tokens(
            user_id=users[i].id, tenant=tenant, role=Membership.Role.OWNER
        )
        label, port = _server_of(tenant, second_port)
        states.append(
            mixlib.TenantState(
                index=i,
                id=str(tenant.id),
                slug=tenant.slug,
                server=label,
                port=port,
                database=tenant.database_name,
                number=numbers[i],
                email=users[i].email,
                access=tokens["access"],
                refresh=tokens["refresh"],
                seeded=seeded[i][0],
                seeded_phones=seeded[i][1],
            )
        )
    big_state = None
    if big is not None:
        i = len(tenants)
        tokens = issue_tokens(user_id=users[i].id, tenant=big, role="owner")
        big_state = {
            "id": str(big.id),
            "database": big.database_name,
            "port": _server_of(big, second_port)[1],
            "access": tokens["access"],
            "phones": seeded[i][1],
        }
    return states, big_state, time.perf_counter() - started


# --- the run ---


class Run:
    """Everything the phases share."""

    def __init__(
        self,
        args: argparse.Namespace,
        setup: _harness.Setup,
        env: dict[str, str],
        redis: svc.RedisServer,
        cluster: svc.PostgresCluster,
        fake: Any,
    ) -> None:
        self.args = args
        self.setup = setup
        self.env = env
        self.redis = redis
        self.cluster = cluster
        self.fake = fake
        self.t0 = time.monotonic()
        self.recorder = mixlib.Recorder(self.t0)
        self.phases: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.gunicorn: svc.LoadGunicorn | None = None
        self.workers: list[svc.LoadCeleryWorker] = []
        self.beat: svc.CeleryBeat | None = None
        self.mix: mixlib.Mix | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    @property
    def worker(self) -> svc.LoadCeleryWorker:
        return self.workers[-1]

    def start_worker(self) -> svc.LoadCeleryWorker:
        worker = svc.LoadCeleryWorker(
            _http.service_env(TENANT_CONNECTION_LRU_SIZE=str(self.args.celery_lru)),
            concurrency=self.args.celery_concurrency,
        )
        self.workers.append(worker)
        return worker.start()

    def process_names(self) -> dict[int, str]:
        names = {os.getpid(): "harness"}
        if self.gunicorn is not None and self.gunicorn.process is not None:
            names[self.gunicorn.process.pid] = "web master"
            for pid in self.gunicorn.worker_pids():
                names[pid] = "web worker"
        for proc, label in [(w, "celery") for w in self.workers] + [
            (self.beat, "celery beat")
        ]:
            if proc is not None and proc.process is not None:
                for pid in _group_pids(proc.process.pid):
                    names[pid] = label
        return names

    def worker_pids(self) -> list[int]:
        return self.gunicorn.worker_pids() if self.gunicorn is not None else []

    def phase(self, name: str, duration: float, **extra: Any) -> dict[str, Any]:
        wait_for_room(self.args, self.setup, name)
        entry = {"name": name, "start": self.now(), "end": None, **extra}
        self.phases.append(entry)
        print(
            f"[{entry['start']:7.1f}s] phase {name}: {duration:.0f}s, "
            f"{self.args.clients} clients",
            flush=True,
        )
        return entry

    def run_mix(
        self, name: str, duration: float, stop: threading.Event | None = None
    ) -> tuple[threading.Thread, threading.Event, dict[str, Any]]:
        """Start the mix in the background for `duration` seconds."""
        stop = stop or threading.Event()
        entry = self.phase(name, duration)
        until = time.monotonic() + duration

        def body() -> None:
            try:
                self.mix.run(
                    name,
                    clients=self.args.clients,
                    until=until,
                    max_requests=self.args.max_requests,
                    stop=stop,
                )
            finally:
                entry["end"] = self.now()

        thread = threading.Thread(target=body, name=f"mix-{name}", daemon=True)
        thread.start()
        return thread, stop, entry

    def sleep_until(self, entry: dict[str, Any], offset: float) -> None:
        delay = entry["start"] + offset - self.now()
        if delay > 0:
            time.sleep(delay)


def _group_pids(pgid: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-g", str(pgid)], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


def run(
    args: argparse.Namespace,
    setup: _harness.Setup,
    env: dict[str, str],
    redis: svc.RedisServer,
    cluster: svc.PostgresCluster,
    fake: Any,
) -> dict[str, Any]:
    ctx = Run(args, setup, env, redis, cluster, fake)
    wait_for_room(args, setup, "provisioning")
    print(f"provisioning {args.tenants} tenants on two servers ...", flush=True)
    tenants, big, provision_seconds = provision(args)
    print(
        f"  took {provision_seconds:.0f}s; owners, tokens, numbers, members ...",
        flush=True,
    )
    states, big_state, prepare_seconds = prepare(args, tenants, big, cluster.port)
    placement = Counter(s.server for s in states)
    print(
        f"  took {prepare_seconds:.0f}s; tenants per server: {dict(placement)}",
        flush=True,
    )
    _harness.release_django()  # the servers get the connection slots
    ctx.t0 = time.monotonic()  # the timeline starts with the servers
    ctx.recorder = mixlib.Recorder(ctx.t0)

    gunicorn = svc.LoadGunicorn(_http.service_env(), workers=args.workers)
    public_base = f"http://127.0.0.1:{gunicorn.port}"
    gunicorn.env["PUBLIC_BASE_URL"] = public_base
    ctx.gunicorn = gunicorn
    ctx.beat = svc.CeleryBeat(_http.service_env())
    sampler = svc.Sampler(
        servers={"main": 5432, "second": cluster.port},
        like=setup.like,
        registry=setup.registry,
        t0=ctx.t0,
        worker_pids=ctx.worker_pids,
        process_names=ctx.process_names,
    )
    ctx.mix = mixlib.Mix(
        port=gunicorn.port,
        public_base=public_base,
        twilio_token=fake.token,
        tenants=states,
        fake=fake,
        recorder=ctx.recorder,
        zipf_s=args.zipf_s,
        seed=args.seed,
    )
    try:
        gunicorn.start()
        ctx.start_worker()
        ctx.beat.start()
        sampler.start()
        churn(ctx)
        for name in args.scenario_list:
            print(f"--- scenario {name} ---", flush=True)
            ctx.scenarios[name] = SCENARIO_FUNCS[name](ctx, big_state)
            print(
                f"  => {ctx.scenarios[name]['verdict']}: "
                f"{ctx.scenarios[name]['summary']}",
                flush=True,
            )
        print(
            "final checks: every outbound message sent, nobody messaged twice ...",
            flush=True,
        )
        final = {
            "drain": drain(ctx, set(ctx.mix.senders), timeout=120),
            "duplicates": duplicates(fake),
        }
        time.sleep(2)  # one more connection sample with everything idle
    finally:
        sampler.stop()
        logs = {"gunicorn": "", "celery": "", "beat": ""}
        with contextlib.suppress(Exception):
            logs["gunicorn"] = gunicorn.full_log()
        gunicorn.stop()
        for worker in ctx.workers:
            worker.stop()
        ctx.beat.stop()
        logs["celery"] = "\n".join(w.full_log() for w in ctx.workers)
        logs["beat"] = ctx.beat.full_log()
        log_dir = Path(tempfile.mkdtemp(prefix="bench-load-logs-"))
        for name, text in logs.items():
            (log_dir / f"{name}.log").write_text(text)
        with open(log_dir / "requests.csv", "w") as handle:
            handle.write(",".join(mixlib.Row._fields) + "\n")
            for row in ctx.recorder.rows:
                handle.write(",".join(str(v).replace(",", ";") for v in row) + "\n")
        print(f"logs and every request of this run kept in {log_dir}")
    return {
        "placement": dict(placement),
        "provision_seconds": provision_seconds,
        "prepare_seconds": prepare_seconds,
        "rows": ctx.recorder.rows,
        "phases": ctx.phases,
        "faults": ctx.faults,
        "scenarios": ctx.scenarios,
        "final": final,
        "connections": sampler.connections,
        "per_process": sampler.per_process,
        "rss": sampler.rss,
        "logs": {k: svc.notable_log_lines(v) for k, v in logs.items()},
        "log_dir": str(log_dir),
        "tenant_servers": {s.index: s.server for s in states},
        "created_members": len(ctx.mix.created),
    }


def _cpu(ctx: Run) -> dict[str, float]:
    """CPU seconds so far: this process, the gunicorn workers, the Celery worker."""
    out = {"harness": sum(os.times()[:2])}
    celery = ctx.worker.process
    for label, pids in (
        ("gunicorn workers", ctx.worker_pids()),
        ("celery", _group_pids(celery.pid) if celery is not None else []),
    ):
        out[label] = sum(svc.cpu_seconds(p) or 0.0 for p in pids)
    return out


def churn(ctx: Run) -> None:
    cpu_before = _cpu(ctx)
    thread, _, entry = ctx.run_mix("churn", ctx.args.duration)
    while thread.is_alive():
        thread.join(timeout=30)
        rows = [r for r in ctx.recorder.rows if r.phase == "churn"]
        bad = sum(1 for r in rows if r.status not in mixlib.EXPECTED[r.op])
        print(
            f"  [{ctx.now():7.1f}s] churn: {len(rows)} requests, {bad} failed",
            flush=True,
        )
    entry["warmup_end"] = entry["start"] + ctx.args.warmup
    seconds = entry["end"] - entry["start"]
    cpu_after = _cpu(ctx)
    entry["cpu_share"] = {
        k: (cpu_after[k] - cpu_before[k]) / seconds for k in cpu_after
    }


# --- scenarios ---


def _failed(row: mixlib.Row) -> bool:
    return row.status not in mixlib.EXPECTED[row.op]


def _unavailable(row: mixlib.Row) -> bool:
    return row.status == 503 and row.code == "tenant_unavailable"


def _details(
    rows: list[mixlib.Row], since: float, servers: dict[int, str] | None = None
) -> list[str]:
    """The first failed requests, each with its time relative to the fault."""
    return [
        f"{r.t - since:+.1f}s {r.op} {r.status} {r.code} {r.error}".strip()
        + (f" (server {servers[r.tenant]})" if servers else "")
        + f" {r.seconds * 1000:.0f}ms"
        for r in rows[:60]
    ]


def _status_counts(rows: list[mixlib.Row]) -> dict[str, int]:
    return dict(
        Counter(
            f"{r.op} {r.status}{(' ' + r.code) if r.code else ''}"
            f"{(' ' + r.error) if r.error else ''}"
            for r in rows
        ).most_common(12)
    )


class ReadyzPoller(threading.Thread):
    """GET /readyz every half second: (t, HTTP status, checks)."""

    def __init__(self, ctx: Run) -> None:
        super().__init__(name="readyz", daemon=True)
        self.ctx = ctx
        self.stop_event = threading.Event()
        self.samples: list[tuple[float, int, dict[str, str]]] = []

    def run(self) -> None:
        while not self.stop_event.is_set():
            t = self.ctx.now()
            try:
                answer = mixlib.request(
                    self.ctx.gunicorn.port, "GET", "/readyz", timeout=15
                )
                checks = answer.json().get("checks", {})
                self.samples.append((t, answer.status, checks))
            except Exception as exc:
                self.samples.append((t, 0, {"error": type(exc).__name__}))
            self.stop_event.wait(0.5)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=20)


def scenario_redis(ctx: Run, big: Any) -> dict[str, Any]:
    args = ctx.args
    poller = ReadyzPoller(ctx)
    thread, _, entry = ctx.run_mix("redis", args.scenario_duration)
    poller.start()
    ctx.sleep_until(entry, args.fault_at)
    t_stop = ctx.now()
    ctx.redis.stop()
    print(f"  [{t_stop:7.1f}s] redis-server stopped", flush=True)
    ctx.sleep_until(entry, args.fault_at + args.outage)
    ctx.redis.start()
    t_start = ctx.now()
    ctx.faults.append({"name": "Redis stopped", "start": t_stop, "end": t_start})
    print(f"  [{t_start:7.1f}s] redis-server started again (empty)", flush=True)
    first_key: dict[str, float | None] = {"cache": None, "broker": None}
    while thread.is_alive():
        for label, db in (("cache", 0), ("broker", 1)):
            if first_key[label] is None and (ctx.redis.key_count(db) or 0) > 0:
                first_key[label] = ctx.now() - t_start
        thread.join(timeout=0.5)
    poller.stop()
    rows = [r for r in ctx.recorder.rows if r.phase == "redis"]
    failed = [r for r in rows if _failed(r)]
    during = [r for r in rows if t_stop <= r.t <= t_start]
    after = [r for r in rows if r.t > t_start]
    # Back on Redis: from when on did every /readyz answer (either worker) say ok?
    cache_ok_at = None
    for t, _status, checks in poller.samples:
        if t < t_start:
            continue
        if checks.get("cache") == "ok":
            if cache_ok_at is None:
                cache_ok_at = t
        else:
            cache_ok_at = None
    recovered = None if cache_ok_at is None else cache_ok_at - t_start
    degraded_seen = any(
        c.get("cache") != "ok" for t, _, c in poller.samples if t_stop < t < t_start
    )
    drained = drain(ctx, set(ctx.mix.senders), timeout=90)
    ok = not failed and recovered is not None and recovered <= 30
    after_ready = [c.get("cache", "error") for t, _, c in poller.samples if t > t_start]
    last_degraded = max(
        (
            t - t_start
            for t, _, c in poller.samples
            if t > t_start and c.get("cache") != "ok"
        ),
        default=None,
    )
    summary = (
        f"{len(rows)} requests ({len(during)} while Redis was down, {len(after)} "
        f"after), {len(failed)} failed; /readyz cache 'ok' on every answer from "
        f"{_fmt_s(recovered)} after Redis returned ({after_ready.count('ok')} of "
        f"{len(after_ready)} answers after its return 'ok', the last other one "
        f"at +{_fmt_s(last_degraded)}; degraded seen during the "
        f"outage: {'yes' if degraded_seen else 'no'}); first cache key "
        f"{_fmt_s(first_key['cache'])}, first broker key "
        f"{_fmt_s(first_key['broker'])} after; outbound messages afterwards: "
        f"{drained['summary']}"
    )
    return {
        "verdict": "PASS" if ok else "FAIL",
        "summary": summary,
        "requests": len(rows),
        "during": len(during),
        "after": len(after),
        "failed": len(failed),
        "failed_by_status": _status_counts(failed),
        "failed_detail": _details(failed, t_stop),
        "readyz_after": dict(
            Counter(
                c.get("cache", "error") for t, _, c in poller.samples if t > t_start
            )
        ),
        "readyz_recovered_s": recovered,
        "first_cache_key_s": first_key["cache"],
        "first_broker_key_s": first_key["broker"],
        "readyz": [
            (round(t, 2), s, c.get("cache"), c.get("broker"))
            for t, s, c in poller.samples
        ],
        "drain": drained,
        "window": [t_stop, t_start],
    }


def scenario_dbdown(ctx: Run, big: Any) -> dict[str, Any]:
    args = ctx.args
    thread, _, entry = ctx.run_mix("dbdown", args.scenario_duration)
    ctx.sleep_until(entry, args.fault_at)
    t_stop = ctx.now()
    ctx.cluster.stop()
    t_down = ctx.now()  # stopped for sure from here ...
    print(f"  [{t_down:7.1f}s] second PostgreSQL cluster stopped", flush=True)
    ctx.sleep_until(entry, args.fault_at + args.outage)
    t_up = ctx.now()  # ... to here
    ctx.cluster.start()
    t_start = ctx.now()
    ctx.faults.append({"name": "DB server 2 down", "start": t_stop, "end": t_start})
    print(f"  [{t_start:7.1f}s] second PostgreSQL cluster started again", flush=True)
    thread.join()
    servers = {s.index: s.server for s in ctx.mix.tenants}
    rows = [r for r in ctx.recorder.rows if r.phase == "dbdown"]
    on_down = [r for r in rows if servers[r.tenant] == "second"]
    others = [r for r in rows if servers[r.tenant] == "main"]
    other_failed = [r for r in others if _failed(r)]
    unavailable = [
        r for r in on_down if r.status == 503 and r.code == "tenant_unavailable"
    ]
    down_window = [r for r in on_down if t_down <= r.t and r.t + r.seconds <= t_up]
    # Tenants of the stopped server: anything but success or 503 tenant_unavailable
    # is wrong at any time; before the stop (minus in-flight slack) only success.
    wrong = [
        r
        for r in on_down
        if _failed(r)
        and not (
            r.status == 503 and r.code == "tenant_unavailable" and r.t >= t_stop - 5
        )
    ]
    after = [r for r in on_down if r.t > t_start]
    last_bad = max((r.t + r.seconds for r in after if _failed(r)), default=None)
    recovered = 0.0 if last_bad is None else last_bad - t_start
    ok_after = [
        r for r in after if not _failed(r) and (last_bad is None or r.t > last_bad)
    ]
    served_during = sum(1 for r in down_window if not _failed(r))
    ok = not other_failed and not wrong and len(ok_after) >= 10 and recovered <= 60
    summary = (
        f"tenants on the stopped server: {len(on_down)} requests, "
        f"{len(unavailable)} answered 503 tenant_unavailable, {served_during} "
        f"answered 2xx while it was down, {len(wrong)} other "
        f"failures; recovered {_fmt_s(recovered)} after the restart "
        f"({len(ok_after)} successful requests after the last failure); "
        f"other tenants: {len(others)} requests, {len(other_failed)} failed"
    )
    return {
        "verdict": "PASS" if ok else "FAIL",
        "summary": summary,
        "down_tenants": sum(1 for v in servers.values() if v == "second"),
        "requests_down_tenants": len(on_down),
        "tenant_unavailable": len(unavailable),
        "wrong_down_tenants": len(wrong),
        "wrong_by_status": _status_counts(wrong),
        "wrong_detail": _details(wrong, t_stop),
        "restart_at_s": t_start - t_stop,
        "down_tenants_while_down": dict(
            Counter(
                f"{r.op} {r.status} {r.code}".strip()
                for r in on_down
                if t_down <= r.t and r.t + r.seconds <= t_up
            ).most_common()
        ),
        "requests_other_tenants": len(others),
        "failed_other_tenants": len(other_failed),
        "failed_other_by_status": _status_counts(other_failed),
        "failed_other_detail": _details(other_failed, t_stop),
        "recovered_s": recovered,
        "ok_after_recovery": len(ok_after),
        "latency_down_tenants_during": _latency(
            [r for r in down_window if r.status == 503]
        ),
        "latency_other_tenants_during": _latency(
            [r for r in others if t_stop <= r.t <= t_start]
        ),
        "drain": drain(ctx, set(ctx.mix.senders), timeout=90),
        "window": [t_stop, t_start],
    }


def scenario_celery(ctx: Run, big: dict[str, Any]) -> dict[str, Any]:
    args = ctx.args
    ctx.fake.delay = args.twilio_delay
    stop = threading.Event()
    thread, _, entry = ctx.run_mix("celery", args.scenario_duration * 2, stop)
    marker = f"kill-{uuid.uuid4().hex[:8]}"
    result: dict[str, Any] = {}
    try:
        ctx.sleep_until(entry, 10)
        answer = mixlib.request(
            ctx.gunicorn.port,
            "POST",
            "/api/messages/send",
            token=big["access"],
            json_body={
                "body": f"Hi {{first_name}}, {marker}: the picnic moves to 1pm.",
                "recipients": {"all": True},
            },
        )
        if answer.status != 202:
            raise RuntimeError(f"broadcast: {answer.status} {answer.body[:300]!r}")
        broadcast = answer.json()["id"]
        size = answer.json()["recipient_count"]
        t_send = ctx.now()
        print(f"  [{t_send:7.1f}s] broadcast to {size} recipients accepted", flush=True)
        with svc.pg_connect(big["port"], big["database"]) as conn:

            def counts() -> dict[str, int]:
                return dict(
                    conn.execute(
                        "SELECT status, count(*) FROM messaging_message WHERE "
                        "broadcast_id = %s GROUP BY status",
                        [broadcast],
                    ).fetchall()
                )

            deadline = time.monotonic() + 120
            while _done(counts()) < size * 0.2 and time.monotonic() < deadline:
                time.sleep(0.05)
            before_kill = counts()
            old = ctx.worker
            t_kill = old.kill_now() - ctx.t0
            print(
                f"  [{t_kill:7.1f}s] Celery worker SIGKILLed at {before_kill}",
                flush=True,
            )
            time.sleep(3)
            ctx.start_worker()
            t_new = ctx.now()
            ctx.faults.append(
                {"name": "Celery worker killed", "start": t_kill, "end": t_new}
            )
            print(f"  [{t_new:7.1f}s] new Celery worker ready", flush=True)
            deadline = time.monotonic() + 240
            final = counts()
            while _done(final) < size and time.monotonic() < deadline:
                time.sleep(0.5)
                final = counts()
            t_all = ctx.now()
        # everything the fake provider took for this broadcast, per phone
        with ctx.fake.lock:
            taken = Counter(r["to"] for r in ctx.fake.created if marker in r["body"])
        twice = {phone: n for phone, n in taken.items() if n > 1}
        missing = sorted(set(big["phones"]) - set(taken))
        lost = size - _done(final)
        ok = not twice and lost == 0 and not missing
        result = {
            "verdict": "PASS" if ok else "FAIL",
            "summary": (
                f"broadcast to {size}: worker killed at {_done(before_kill)} sent "
                f"({before_kill}); new worker {t_new - t_kill:.1f}s later; final "
                f"{final} {_fmt_s(t_all - t_new)} after it; provider got "
                f"{sum(taken.values())} sends for {len(taken)} phones, "
                f"{len(twice)} phones twice, {len(missing)} never, {lost} rows "
                "not sent"
            ),
            "recipients": size,
            "at_kill": before_kill,
            "final": final,
            "sends": sum(taken.values()),
            "phones": len(taken),
            "twice": dict(list(twice.items())[:20]),
            "missing": missing[:20],
            "lost": lost,
            "all_sent_after_new_worker_s": t_all - t_new,
            "window": [t_kill, t_new],
        }
    finally:
        stop.set()
        thread.join()
        ctx.fake.delay = 0.0
    rows = [r for r in ctx.recorder.rows if r.phase == "celery"]
    failed = [r for r in rows if _failed(r)]
    result.update(
        requests=len(rows),
        failed=len(failed),
        failed_by_status=_status_counts(failed),
        failed_detail=_details(failed, result.get("window", [0])[0] or 0),
        drain=drain(ctx, set(ctx.mix.senders), timeout=90),
    )
    result["summary"] += f"; background mix: {len(rows)} requests, {len(failed)} failed"
    return result


def _done(counts: dict[str, int]) -> int:
    return sum(counts.get(s, 0) for s in ("sent", "delivered"))


def scenario_webkill(ctx: Run, big: Any) -> dict[str, Any]:
    args = ctx.args
    duration = max(60.0, args.scenario_duration - args.outage)
    thread, _, entry = ctx.run_mix("webkill", duration)
    ctx.sleep_until(entry, args.fault_at)
    before = ctx.gunicorn.worker_pids()
    victim = before[0]
    rss = svc.rss_kib(victim)
    os.kill(victim, signal.SIGKILL)
    t_kill = ctx.now()
    print(f"  [{t_kill:7.1f}s] gunicorn worker {victim} SIGKILLed", flush=True)
    replaced_at = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = ctx.gunicorn.worker_pids()
        if victim not in pids and len(pids) >= args.workers:
            replaced_at = ctx.now()
            break
        time.sleep(0.1)
    after = ctx.gunicorn.worker_pids()
    ctx.faults.append(
        {"name": "web worker killed", "start": t_kill, "end": replaced_at or t_kill}
    )
    print(f"  [{ctx.now():7.1f}s] workers now {after}", flush=True)
    thread.join()
    rows = [r for r in ctx.recorder.rows if r.phase == "webkill"]
    window = (t_kill - 2.0, t_kill + 10.0)
    in_window = [r for r in rows if window[0] <= r.t <= window[1] and _failed(r)]
    outside = [r for r in rows if not (window[0] <= r.t <= window[1]) and _failed(r)]
    created = [c for c in ctx.mix.created if c[2] >= entry["start"]]
    check = [
        c
        for c in created
        if c[1] not in ctx.mix.deleted and c[1] not in ctx.mix.delete_unknown
    ]
    missing = missing_members(ctx, check)
    ok = replaced_at is not None and not missing and not outside
    summary = (
        f"worker {victim} (RSS {(rss or 0) / 1024:.0f} MiB) killed; replaced "
        f"{_fmt_s(None if replaced_at is None else replaced_at - t_kill)} later "
        f"(workers {before} -> {after}); {len(rows)} requests, {len(in_window)} "
        f"failed in the kill window ({_status_counts(in_window)}), {len(outside)} "
        f"outside it; members answered 201: {len(created)}, checked {len(check)}, "
        f"missing {len(missing)}"
    )
    return {
        "verdict": "PASS" if ok else "FAIL",
        "summary": summary,
        "victim": victim,
        "replaced_s": None if replaced_at is None else replaced_at - t_kill,
        "requests": len(rows),
        "failed_in_kill_window": len(in_window),
        "failed_in_kill_window_by_status": _status_counts(in_window),
        "failed_outside": len(outside),
        "failed_outside_by_status": _status_counts(outside),
        "failed_detail": _details(in_window + outside, t_kill),
        "created_201": len(created),
        "checked": len(check),
        "missing": missing[:20],
        "window": [t_kill, replaced_at],
    }


SCENARIO_FUNCS = {
    "redis": scenario_redis,
    "dbdown": scenario_dbdown,
    "celery": scenario_celery,
    "webkill": scenario_webkill,
}


# --- checks in the tenant databases ---


def missing_members(ctx: Run, created: list[tuple[int, str, float]]) -> list[str]:
    by_tenant: dict[int, list[str]] = defaultdict(list)
    for index, member_id, _ in created:
        by_tenant[index].append(member_id)
    missing = []
    for index, ids in by_tenant.items():
        tenant = ctx.mix.tenants[index]
        with svc.pg_connect(tenant.port, tenant.database) as conn:
            found = {
                str(row[0])
                for row in conn.execute(
                    "SELECT id FROM members_member WHERE id = ANY(%s::uuid[])", [ids]
                ).fetchall()
            }
        missing += [i for i in ids if i not in found]
    return missing


def outbound_counts(tenant: mixlib.TenantState) -> dict[str, int]:
    with svc.pg_connect(tenant.port, tenant.database) as conn:
        return dict(
            conn.execute(
                "SELECT status, count(*) FROM messaging_message WHERE direction = "
                "'outbound' GROUP BY status"
            ).fetchall()
        )


def drain(ctx: Run, senders: set[int], timeout: float) -> dict[str, Any]:
    """Wait until no outbound message of these tenants is queued or sending."""
    started = time.monotonic()
    pending = set(senders)
    totals: dict[int, dict[str, int]] = {}
    while True:
        for index in sorted(pending):
            try:
                totals[index] = outbound_counts(ctx.mix.tenants[index])
            except Exception as exc:
                totals[index] = {"unreachable": 1, "error": str(exc)[:80]}  # type: ignore[dict-item]
        pending = {
            i
            for i, c in totals.items()
            if c.get("queued") or c.get("sending") or c.get("unreachable")
        }
        if not pending or time.monotonic() - started > timeout:
            break
        time.sleep(3)
    overall: Counter[str] = Counter()
    for counts in totals.values():
        overall.update({k: v for k, v in counts.items() if isinstance(v, int)})
    took = time.monotonic() - started
    summary = (
        f"{sum(overall.values())} outbound rows in {len(totals)} tenants: "
        f"{dict(overall)}"
        + (
            f"; {len(pending)} tenants still pending after {took:.0f}s"
            if pending
            else f" (drained in {took:.0f}s)"
        )
    )
    return {
        "tenants": len(totals),
        "by_status": dict(overall),
        "pending_tenants": len(pending),
        "seconds": took,
        "summary": summary,
    }


def duplicates(fake: Any) -> dict[str, Any]:
    """Sends the fake provider took more than once (same number, same text)."""
    with fake.lock:
        counts = Counter((r["to"], r["body"]) for r in fake.created)
    twice = {f"{to} {body[:40]}": n for (to, body), n in counts.items() if n > 1}
    return {
        "sends": sum(counts.values()),
        "distinct": len(counts),
        "twice": len(twice),
        "examples": dict(list(twice.items())[:10]),
    }


# --- statistics ---


def _fmt_s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}s"


def _latency(rows: list[mixlib.Row]) -> dict[str, Any]:
    values = [r.seconds for r in rows if r.status > 0]
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values) * 1000, 1),
        "p99_ms": round(_harness.percentile(values, 99) * 1000, 1),
    }


def endpoint_stats(rows: list[mixlib.Row], seconds: float) -> list[dict[str, Any]]:
    by_op: dict[str, list[mixlib.Row]] = defaultdict(list)
    for row in rows:
        by_op[row.op].append(row)
    stats = []
    for op in mixlib.OPS:
        mine = by_op.get(op, [])
        if not mine:
            continue
        answered = [r.seconds for r in mine if r.status > 0]
        failed = Counter(
            f"{r.status}{(' ' + r.code) if r.code else ''}" for r in mine if _failed(r)
        )
        stats.append(
            {
                "op": op,
                "requests": len(mine),
                "per_s": len(mine) / seconds if seconds else 0.0,
                "median_ms": statistics.median(answered) * 1000 if answered else None,
                "p99_ms": _harness.percentile(answered, 99) * 1000
                if answered
                else None,
                "failed": sum(failed.values()),
                "failed_by_status": dict(failed),
            }
        )
    return stats


def windows(rows: list[mixlib.Row], end: float) -> list[dict[str, Any]]:
    buckets: dict[int, list[mixlib.Row]] = defaultdict(list)
    for row in rows:
        buckets[int(row.t // WINDOW)].append(row)
    out = []
    for i in range(int(end // WINDOW) + 1):
        mine = buckets.get(i, [])
        answered = [r.seconds for r in mine if r.status > 0]
        out.append(
            {
                "t": i * WINDOW,
                "n": len(mine),
                "failed": sum(1 for r in mine if _failed(r) and not _unavailable(r)),
                "unavailable": sum(1 for r in mine if _unavailable(r)),
                "p50_ms": statistics.median(answered) * 1000 if answered else None,
                "p99_ms": _harness.percentile(answered, 99) * 1000
                if answered
                else None,
            }
        )
    return out


def memory(results: dict[str, Any], churn: dict[str, Any]) -> dict[str, Any]:
    """Per gunicorn worker: RSS after warm-up vs at the end of the churn run."""
    start, end, warm = churn["start"], churn["end"], churn["warmup_end"]
    by_pid: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for sample in results["rss"]:
        if start <= sample["t"] <= end:
            by_pid[sample["pid"]].append((sample["t"], sample["kib"]))
    workers = {}
    span = min(30.0, max(5.0, (end - warm) / 4))
    for pid, samples in by_pid.items():
        base = [k for t, k in samples if warm <= t <= warm + span]
        last = [k for t, k in samples if t >= end - span]
        later = [k for t, k in samples if t >= warm]
        if not base or not last:
            continue
        b, f = statistics.median(base), statistics.median(last)
        workers[pid] = {
            "start_mib": samples[0][1] / 1024,
            "after_warmup_mib": b / 1024,
            "final_mib": f / 1024,
            "max_mib": max(later) / 1024,
            "growth": f / b - 1,
            "max_growth": max(later) / b - 1,
        }
    return workers


def connection_summary(
    results: dict[str, Any], start: float, end: float
) -> dict[str, Any]:
    samples = [c for c in results["connections"] if start <= c["t"] <= end]
    out: dict[str, Any] = {}
    for label in ("main", "second", "registry"):
        values = [c[label] for c in samples if c.get(label) is not None]
        out[label] = {
            "peak": max(values, default=None),
            "final": values[-1] if values else None,
            "median": statistics.median(values) if values else None,
        }
    procs = [p for p in results["per_process"] if start <= p["t"] <= end]
    by_kind: dict[str, int] = {}
    peak_at: dict[str, list[float]] = {}
    for p in procs:
        if p["tenant"] > by_kind.get(p["name"], -1):
            by_kind[p["name"]] = p["tenant"]
            peak_at[p["name"]] = [p["t"]]
        elif p["tenant"] == by_kind[p["name"]]:
            peak_at[p["name"]].append(p["t"])
    out["peak_tenant_connections_per_process"] = by_kind
    out["peak_at"] = {k: v[:10] for k, v in peak_at.items()}
    out["samples"] = len(samples)
    return out


# --- report ---


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    env: dict[str, str],
    pg_version: str,
    limit: int,
    results: dict[str, Any] | None,
) -> None:
    if results is None:
        return
    rows: list[mixlib.Row] = results["rows"]
    churn = next(p for p in results["phases"] if p["name"] == "churn")
    churn_rows = [r for r in rows if r.phase == "churn"]
    churn_seconds = churn["end"] - churn["start"]
    end = max((p["end"] or 0) for p in results["phases"])
    stats = endpoint_stats(churn_rows, churn_seconds)
    mem = memory(results, churn)
    conn_churn = connection_summary(results, churn["start"], churn["end"])
    conn_all = connection_summary(results, 0, end + 60)
    budget = connection_budget(args)
    per_process_bound = args.lru * args.pool_max
    churn_failed = [r for r in churn_rows if _failed(r)]

    table = _report.table(
        ["endpoint", "requests", "req/s", "median", "p99", "failed (status)"],
        [
            [
                s["op"],
                s["requests"],
                f"{s['per_s']:.1f}",
                _ms(s["median_ms"]),
                _ms(s["p99_ms"]),
                ", ".join(f"{k}: {v}" for k, v in s["failed_by_status"].items()) or "0",
            ]
            for s in stats
        ]
        + [
            [
                "**all**",
                len(churn_rows),
                f"{len(churn_rows) / churn_seconds:.1f}",
                _ms(_latency(churn_rows).get("median_ms")),
                _ms(_latency(churn_rows).get("p99_ms")),
                len(churn_failed),
            ]
        ],
    )
    mem_table = _report.table(
        [
            "gunicorn worker",
            "start",
            "after warm-up",
            "final",
            "max",
            "growth",
            "max growth",
        ],
        [
            [
                pid,
                f"{m['start_mib']:.1f} MiB",
                f"{m['after_warmup_mib']:.1f} MiB",
                f"{m['final_mib']:.1f} MiB",
                f"{m['max_mib']:.1f} MiB",
                f"{m['growth']:+.1%}",
                f"{m['max_growth']:+.1%}",
            ]
            for pid, m in mem.items()
        ],
    )
    conn_table = _report.table(
        [
            "PostgreSQL sessions (this run)",
            "churn peak",
            "churn final",
            "whole run peak",
            "after the run",
        ],
        [
            [
                label,
                conn_churn[label]["peak"],
                conn_churn[label]["final"],
                conn_all[label]["peak"],
                conn_all[label]["final"],
            ]
            for label in ("main", "second", "registry")
        ],
    )
    proc_peaks = conn_churn["peak_tenant_connections_per_process"]
    proc_all = conn_all["peak_tenant_connections_per_process"]
    scen_table = _report.table(
        ["scenario", "verdict", "details"],
        [
            [name, s["verdict"], s["summary"]]
            for name, s in results["scenarios"].items()
        ],
    )
    final = results["final"]
    log_lines = []
    for name, (count, lines) in results["logs"].items():
        log_lines.append(
            f"- {name} log: {count} ERROR/Traceback lines" + (":" if lines else "")
        )
        log_lines += [f"    - `{line.strip()[:220]}`" for line in lines[:6]]

    body = "\n".join(
        [
            f"Tenants: {args.tenants} ({results['placement']}), provisioned in "
            f"{results['provision_seconds']:.0f}s, owners/tokens/numbers/members in "
            f"{results['prepare_seconds']:.0f}s.",
            "",
            f"**Churn run** ({churn_seconds:.0f}s, {args.clients} clients, Zipf "
            f"s={args.zipf_s}; {len(churn_rows)} requests, "
            f"{len(churn_rows) / churn_seconds:.1f} req/s, {len(churn_failed)} "
            "failed):",
            "",
            table,
            "",
            "CPU used during the churn run, in cores (2 on this machine): "
            + ", ".join(f"{k} {v:.2f}" for k, v in churn.get("cpu_share", {}).items())
            + " (the load generator shares the machine).",
            "",
            f"Memory of the gunicorn workers (VmRSS every 5 s; warm-up "
            f'{args.warmup:.0f}s; "after warm-up" and "final" are medians over '
            "the first and last stretch of the run after warm-up):",
            "",
            mem_table,
            "",
            f"PostgreSQL sessions of this run per server (pg_stat_activity every "
            f"second, tenant databases `{setup.prefix}%`, and the registry):",
            "",
            conn_table,
            "",
            f"Peak tenant sessions per process (pg_stat_activity joined with `ss` "
            f"every 3 s; bound per process LRU {args.lru} x pool {args.pool_max} = "
            f"{per_process_bound} for web workers, {args.celery_lru} x "
            f"{args.pool_max} for Celery): churn {proc_peaks}; whole run "
            f"{proc_all}.",
            "",
            "**Fault scenarios** (the same mix running throughout):",
            "",
            scen_table,
            "",
            f"After everything: {final['drain']['summary']}; the fake provider took "
            f"{final['duplicates']['sends']} sends, {final['duplicates']['twice']} "
            "of them to a number that already had the same text.",
            "",
            "Server logs:",
            "",
            *log_lines,
            "",
            "![latency, connections and memory over the run](load.png)",
        ]
    )
    print()
    print(table)
    print()
    print(mem_table)
    print()
    print(conn_table)
    print(f"peak tenant sessions per process: churn {proc_peaks}, all {proc_all}")
    print()
    print(scen_table)
    print()
    print(body.split("After everything: ")[1].split("\n")[0])
    print("\n".join(log_lines))

    when = [
        f"{t:.0f}s ({_phase_at(results['phases'], t)})"
        for t in conn_all["peak_at"].get("web worker", [])
    ]
    verdicts = _verdicts(
        args, results, mem, churn_seconds, proc_all, per_process_bound, when
    )
    for v in verdicts:
        print(f"VERDICT {v.target}: {v.verdict} — {v.measured}")

    data = {
        "command": _report.command(),
        "config": vars(args) | {"budget": budget, "max_connections": limit},
        "placement": results["placement"],
        "phases": results["phases"],
        "faults": results["faults"],
        "churn": {
            "seconds": churn_seconds,
            "requests": len(churn_rows),
            "per_s": len(churn_rows) / churn_seconds,
            "failed": len(churn_failed),
            "endpoints": stats,
        },
        "phase_stats": {
            p["name"]: {
                "endpoints": endpoint_stats(
                    [r for r in rows if r.phase == p["name"]],
                    (p["end"] or end) - p["start"],
                )
            }
            for p in results["phases"]
        },
        "memory": {str(k): v for k, v in mem.items()},
        "connections": {"churn": conn_churn, "all": conn_all},
        "scenarios": results["scenarios"],
        "final": final,
        "logs": results["logs"],
        "verdicts": [v.__dict__ for v in verdicts],
        "windows": windows(rows, end),
        "connection_samples": results["connections"],
        "rss_samples": results["rss"],
        "per_process_samples": results["per_process"],
    }
    out_dir = (
        Path(tempfile.mkdtemp(prefix="bench-load-out-"))
        if args.no_report
        else ROOT / "docs"
    )
    (out_dir / "load.json").write_text(json.dumps(data, indent=1, default=str))
    plot(data, out_dir / "load.png")
    print(f"wrote {out_dir / 'load.json'} and {out_dir / 'load.png'}")
    if args.no_report:
        return
    budget_text = (
        f"worst case per server {sum(budget.values())} of max_connections={limit}: "
        f"web {args.workers} workers x LRU {args.lru} x pool {args.pool_max} = "
        f"{budget['web']}, Celery {args.celery_concurrency} x LRU {args.celery_lru}"
        f" x pool {args.pool_max} = {budget['celery']}, registry pools (max 4 per "
        f"process) {budget['registry']}"
    )
    config = [
        f"gunicorn `config.wsgi`, {args.workers} sync workers; a Celery worker "
        f"(prefork, {args.celery_concurrency}) and Celery beat (sweep every 5 s); "
        "all started and stopped by the script",
        f"registry `{setup.registry}`, tenant prefix `{setup.prefix}`; two "
        f"PostgreSQL servers: 127.0.0.1:5432 and a cluster made with "
        "pg_createcluster on a spare port (dropped after)",
        "its own redis-server on a spare port: cache/revocations db 0, Celery "
        "broker db 1; RATE_LIMITS=off, SMS_RATE_PER_NUMBER=0, "
        "SMS_STALE_SENDING_SECONDS=5, CELERY_VISIBILITY_TIMEOUT=30",
        "SMS_BACKEND=twilio against tests/fakes.py FakeTwilio; webhooks signed "
        "with Twilio's RequestValidator (PUBLIC_BASE_URL set)",
        f"TENANT_CONNECTION_LRU_SIZE={args.lru} (Celery {args.celery_lru}), "
        f"TENANT_POOL_MAX_SIZE={args.pool_max}, REGISTRY_POOL_MAX_SIZE=4 — "
        + budget_text,
        f"{args.tenants} tenants, each an owner (password login), a token pair, "
        f"a sending number and {args.members} members; {args.clients} client "
        f"threads, tenant per request Zipf s={args.zipf_s}; op weights: "
        + ", ".join(f"{op} {w}" for op, (w, _) in mixlib.OPS.items()),
        f"churn {args.duration:.0f}s (warm-up {args.warmup:.0f}s), max "
        f"{args.max_requests} requests per phase; scenarios "
        f"{args.scenario_list}: {args.scenario_duration:.0f}s each, fault at "
        f"+{args.fault_at:.0f}s, outages {args.outage:.0f}s; broadcast of "
        f"{args.broadcast_size} with the fake provider answering after "
        f"{args.twilio_delay}s",
        "a request fails when its status is not the op's expected one (status 0: "
        "no HTTP answer); per scenario some failures are tolerated as stated",
        "raw data: docs/load.json; plot: docs/load.png",
    ]
    _report.write_section(
        "load",
        title="Churn, soak and faults (`bench/load.py`)",
        pg_version=pg_version,
        config=config,
        body=body,
        verdicts=verdicts,
    )
    print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


def _phase_at(phases: list[dict[str, Any]], t: float) -> str:
    for phase in phases:
        if phase["start"] <= t <= (phase["end"] or t):
            return phase["name"]
    return "between phases"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _verdicts(
    args: argparse.Namespace,
    results: dict[str, Any],
    mem: dict[int, dict[str, float]],
    churn_seconds: float,
    proc_all: dict[str, int],
    bound: int,
    when: list[str],
) -> list[_report.Verdict]:
    verdicts = []
    growth = max((m["growth"] for m in mem.values()), default=None)
    if growth is None:
        mem_verdict = "not measured (no RSS samples)"
    elif churn_seconds < 590:
        mem_verdict = f"not measured (run of {churn_seconds:.0f}s, not 10 minutes)"
    else:
        mem_verdict = "met" if growth <= 0.10 else "not met"
    verdicts.append(
        _report.Verdict(
            target="memory of one web process over a 10-minute churn run",
            spec="flat: no growth after warm-up beyond 10 %",
            measured=", ".join(
                f"worker {pid}: {m['after_warmup_mib']:.0f} -> "
                f"{m['final_mib']:.0f} MiB ({m['growth']:+.1%}, max "
                f"{m['max_growth']:+.1%})"
                for pid, m in mem.items()
            )
            + f" over {churn_seconds:.0f}s, {args.tenants} tenants",
            verdict=mem_verdict,
        )
    )
    web_peak = proc_all.get("web worker")
    verdicts.append(
        _report.Verdict(
            target="PostgreSQL connections of one web process",
            spec="never above the connection manager's bound, over a run touching "
            "1,000+ tenants",
            measured=f"peak tenant sessions of one web worker {web_peak} (bound "
            f"LRU {args.lru} x pool {args.pool_max} = {bound}), {args.tenants} "
            f"tenants, sampled every 3 s (at {', '.join(when[:4]) or '-'})",
            verdict=(
                "not measured (no samples)"
                if web_peak is None
                else ("met" if web_peak <= bound else "not met")
            )
            + ("" if args.tenants >= 1000 else f" ({args.tenants} tenants only)"),
        )
    )
    specs = {
        "redis": (
            "Redis stopped mid-run",
            "0 failed API requests; recovers by itself within 30 s of Redis returning",
        ),
        "dbdown": (
            "one tenant database server down",
            "its tenants 503 tenant_unavailable; every other tenant 0 errors",
        ),
        "celery": (
            "Celery worker killed mid-broadcast",
            "no recipient messaged twice, none lost after a new worker starts",
        ),
        "webkill": (
            "web worker killed (SIGKILL)",
            "replaced by gunicorn; no data lost; failed requests in the kill "
            "window reported",
        ),
    }
    for name, (target, spec) in specs.items():
        s = results["scenarios"].get(name)
        verdicts.append(
            _report.Verdict(
                target=target,
                spec=spec,
                measured=s["summary"] if s else "-",
                verdict=(
                    ("met" if s["verdict"] == "PASS" else "not met")
                    if s
                    else "not measured (scenario not run)"
                ),
            )
        )
    return verdicts


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True)
    win = [w for w in data["windows"] if w["p50_ms"] is not None]
    ts = [w["t"] + WINDOW / 2 for w in win]
    ax1.plot(ts, [w["p50_ms"] for w in win], label="p50", color="tab:blue")
    ax1.plot(ts, [w["p99_ms"] for w in win], label="p99", color="tab:red")
    ax1.set_yscale("log")
    ax1.set_ylabel("latency per 10 s (ms)")
    bars = [w for w in data["windows"] if w["failed"] or w.get("unavailable")]
    if bars:
        axf = ax1.twinx()
        xs = [w["t"] + WINDOW / 2 for w in bars]
        unavailable = [w.get("unavailable", 0) for w in bars]
        axf.bar(
            xs,
            unavailable,
            width=WINDOW * 0.8,
            color="tab:orange",
            alpha=0.45,
            label="503 tenant_unavailable",
        )
        axf.bar(
            xs,
            [w["failed"] for w in bars],
            bottom=unavailable,
            width=WINDOW * 0.8,
            color="black",
            alpha=0.45,
            label="other unexpected answers",
        )
        axf.set_ylim(
            0,
            1.15 * max(u + w["failed"] for u, w in zip(unavailable, bars, strict=True)),
        )
        axf.set_ylabel("requests / 10 s")
        axf.legend(loc="lower right", fontsize=7)
    ax1.legend(loc="lower left", fontsize=8)
    samples = data["connection_samples"]
    for label, color in (
        ("main", "tab:green"),
        ("second", "tab:purple"),
        ("registry", "tab:gray"),
    ):
        ax2.plot(
            [c["t"] for c in samples],
            [float("nan") if c.get(label) is None else c[label] for c in samples],
            label=label,
            color=color,
            linewidth=0.9,
        )
    ax2.set_ylabel("PostgreSQL sessions")
    ax2.legend(
        loc="lower left",
        fontsize=7,
        title="tenant DBs per server / registry",
        title_fontsize=7,
    )
    by_pid: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for sample in data["rss_samples"]:
        by_pid[sample["pid"]].append((sample["t"], sample["kib"]))
    for pid, pts in by_pid.items():
        ax3.plot([t for t, _ in pts], [k / 1024 for _, k in pts], label=f"pid {pid}")
    ax3.set_ylabel("gunicorn worker RSS (MiB)")
    ax3.set_xlabel("seconds since the load started")
    ax3.legend(loc="lower right", fontsize=7, ncol=3)
    for ax in (ax1, ax2, ax3):
        for fault in data["faults"]:
            end = fault["end"] or fault["start"]
            ax.axvspan(
                fault["start"], max(end, fault["start"] + 2), color="orange", alpha=0.25
            )
        for phase in data["phases"]:
            ax.axvline(phase["start"], color="black", linewidth=0.5, linestyle=":")
        ax.grid(alpha=0.3)
    for phase in data["phases"]:
        ax1.annotate(
            phase["name"],
            (phase["start"], 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            fontsize=8,
        )
    for fault in data["faults"]:
        ax2.annotate(
            fault["name"],
            (fault["start"], 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            fontsize=7,
            color="darkorange",
        )
    cfg = data["config"]
    fig.suptitle(
        f"bench/load.py: {cfg['tenants']} tenants, {cfg['clients']} clients, "
        f"{cfg['workers']} gunicorn workers, LRU {cfg['lru']} (faults shaded)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
