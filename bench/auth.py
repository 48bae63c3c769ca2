"""Registration and login end to end over HTTP, against gunicorn on PostgreSQL.

    .venv/bin/python bench/auth.py [--count 40] [--workers 2]

Starts `gunicorn config.wsgi -w 2` on a free port with the bench's own registry
database, tenant prefix and Redis cache prefix (rate limits off), then times
`POST /api/auth/register` (each a new church: a registry row, a database cloned
from the template, an owner) one client at a time and then from a few clients
at once, checks that each new tenant answers an authenticated
`GET /api/members` right away, and times `POST /api/auth/login` for the users
just registered. The first registrations are a warm-up (the first one builds the
template) and are reported apart. Last, the parts of a registration are timed
in this process to show where the time goes.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import zoneinfo
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _http  # noqa: E402
import _report  # noqa: E402

PASSWORD = "correct horse battery staple 42"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40, help="registrations, 1 client")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument(
        "--concurrent-count", type=int, default=24, help="registrations, concurrent"
    )
    parser.add_argument("--logins", type=int, default=60, help="sequential logins")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--registry", default="churchtext_bench_auth")
    parser.add_argument("--prefix", default="bench_auth_")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.count < 30:
        parser.error("--count must be at least 30 (the target is a median over 30+)")
    if args.clients > 8:
        parser.error("keep --clients at 8 or below (max_connections is 100)")
    return args


def main() -> None:
    args = parse_args()
    args.code = _http.code_version()  # the tree changes under us: note what ran
    env = _http.bench_env("auth", TENANT_POOL_MAX_SIZE="1")
    setup = _harness.Setup(registry=args.registry, prefix=args.prefix, extra_env=env)
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    try:
        with _harness.benchmark_run(setup):
            server = _http.Gunicorn(_http.service_env(), workers=args.workers)
            with _http.running(server):
                results = run(args, _http.Client(server.port))
            results["in_process"] = in_process_parts()
            results["checks"] = checks(results, setup)
    finally:
        removed = _http.delete_keys(14, _http.cache_pattern(env))
        print(f"removed {removed} Redis cache keys")
    report(args, setup, env, pg_version, results)


class Registrar:
    """Registers churches with distinct names and emails; thread-safe."""

    def __init__(self, client: _http.Client) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.next = 0
        self.users: list[str] = []
        self.tenants: list[str] = []
        self.first_request: list[float] = []

    def register(self) -> float:
        with self.lock:
            n = self.next
            self.next += 1
        email = f"owner{n}@bench-auth.example.org"
        answer = self.client.post(
            "/api/auth/register",
            json_body={
                "organization_name": f"Bench Auth Church {n}",
                "email": email,
                "password": PASSWORD,
                "first_name": "Pat",
                "last_name": f"Owner{n}",
            },
        )
        _http.expect(answer, 201, f"register #{n}")
        data = answer.json()
        if data["tenant"]["status"] != "active" or data["user"]["role"] != "owner":
            raise RuntimeError(f"register #{n}: unexpected answer {data}")
        # The contract: the tenant's database is usable when register returns.
        first = self.client.get("/api/members", token=data["access"])
        _http.expect(first, 200, f"first request of tenant #{n}")
        with self.lock:
            self.users.append(email)
            self.tenants.append(data["tenant"]["id"])
            self.first_request.append(first.seconds)
        return answer.seconds


def timed_many(count: int, clients: int, one: Any) -> tuple[list[float], float]:
    """`count` calls of `one()` spread over `clients` threads; latencies, wall."""
    latencies: list[float] = []
    lock = threading.Lock()
    shares = [count // clients + (i < count % clients) for i in range(clients)]

    def work(i: int) -> None:
        for _ in range(shares[i]):
            took = one()
            with lock:
                latencies.append(took)

    wall = _http.run_clients(clients, work)
    return latencies, wall


def run(args: argparse.Namespace, client: _http.Client) -> dict[str, Any]:
    registrar = Registrar(client)
    print(f"warm-up: {args.warmup} registrations (the first builds the template)")
    warmup = [registrar.register() for _ in range(args.warmup)]
    print("  " + ", ".join(_harness.ms(t) for t in warmup))
    registrar.first_request.clear()

    print(f"{args.count} registrations, one client ...", flush=True)
    sequential: list[float] = []
    for i in range(args.count):
        sequential.append(registrar.register())
        if (i + 1) % 10 == 0:
            print(
                f"  {i + 1}/{args.count}: median so far "
                f"{_harness.ms(_harness.Stats.of(sequential).median)}",
                flush=True,
            )
    first_request = list(registrar.first_request)

    print(f"{args.concurrent_count} registrations, {args.clients} clients ...")
    concurrent, concurrent_wall = timed_many(
        args.concurrent_count, args.clients, registrar.register
    )

    users = list(registrar.users)

    def login_one(index: list[int], lock: threading.Lock) -> float:
        with lock:
            email = users[index[0] % len(users)]
            index[0] += 1
        answer = client.post(
            "/api/auth/login", json_body={"email": email, "password": PASSWORD}
        )
        _http.expect(answer, 200, f"login {email}")
        if "access" not in answer.json():
            raise RuntimeError(f"login {email}: no access token")
        return answer.seconds

    counter, lock = [0], threading.Lock()
    print("login warm-up and", args.logins, "logins, one client ...")
    login_one(counter, lock)
    logins, _ = timed_many(args.logins, 1, lambda: login_one(counter, lock))
    print(f"{args.logins} logins, {args.clients} clients ...")
    logins_concurrent, logins_wall = timed_many(
        args.logins, args.clients, lambda: login_one(counter, lock)
    )
    bad = client.post(
        "/api/auth/login", json_body={"email": users[0], "password": "wrong password"}
    )
    return {
        "warmup": warmup,
        "sequential": sequential,
        "first_request": first_request,
        "concurrent": concurrent,
        "concurrent_wall": concurrent_wall,
        "logins": logins,
        "logins_concurrent": logins_concurrent,
        "logins_wall": logins_wall,
        "bad_login_status": bad.status,
        "registered": registrar.next,
    }


def in_process_parts(repeats: int = 10) -> dict[str, list[float]]:
    """Time the parts of a registration in this process (same machine, same DB)."""
    from django.contrib.auth.hashers import check_password, make_password

    from tenants.provisioning import provision_tenant

    parts: dict[str, list[float]] = {
        "zoneinfo.available_timezones() (RegisterSerializer timezone check)": [],
        "make_password (argon2, before provisioning)": [],
        "check_password (argon2, login)": [],
        "provision_tenant (clone the template, check, activate)": [],
    }
    names = list(parts)
    hashed = make_password(PASSWORD)
    for i in range(repeats):
        started = time.perf_counter()
        zoneinfo.available_timezones()
        parts[names[0]].append(time.perf_counter() - started)
        started = time.perf_counter()
        make_password(PASSWORD)
        parts[names[1]].append(time.perf_counter() - started)
        started = time.perf_counter()
        check_password(PASSWORD, hashed)
        parts[names[2]].append(time.perf_counter() - started)
        started = time.perf_counter()
        provision_tenant(name=f"Bench Auth In-process {i}")
        parts[names[3]].append(time.perf_counter() - started)
    return parts


def checks(results: dict[str, Any], setup: _harness.Setup) -> list[str]:
    """What the registry and the server say after the run."""
    from django.db.models import Count

    from tenants.models import Membership, Tenant, User

    by_status = dict(
        Tenant.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    owners = Membership.objects.filter(role=Membership.Role.OWNER).count()
    users = User.objects.count()
    with _harness.admin_connection() as conn:
        databases = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s "
            "AND datname NOT LIKE '%%template'",
            [setup.like],
        ).fetchone()[0]
    return [
        f"registrations over HTTP: {results['registered']} (all answered 201, "
        "each tenant `active` and its first `GET /api/members` 200)",
        f"tenants by status: {by_status}",
        f"users: {users}, owner memberships: {owners}",
        f"tenant databases on the server (template excluded): {databases}",
        f"a wrong password answered {results['bad_login_status']}",
    ]


def _row(label: str, values: list[float], wall: float | None = None) -> list[object]:
    s = _harness.Stats.of(values)
    rate = f"{len(values) / wall:.1f}/s" if wall else ""
    return [
        label,
        s.n,
        _harness.ms(s.median),
        _harness.ms(s.p95),
        _harness.ms(s.min),
        _harness.ms(s.max),
        rate,
    ]


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    env: dict[str, str],
    pg_version: str,
    results: dict[str, Any],
) -> None:
    seq = _harness.Stats.of(results["sequential"])
    login = _harness.Stats.of(results["logins"])
    headers = ["request", "n", "median", "p95", "min", "max", "rate (wall)"]
    main_table = _report.table(
        headers,
        [
            _row("`POST /api/auth/register`, 1 client", results["sequential"]),
            _row(
                f"`POST /api/auth/register`, {args.clients} clients",
                results["concurrent"],
                results["concurrent_wall"],
            ),
            _row(
                "first `GET /api/members` of the new tenant (1 client)",
                results["first_request"],
            ),
            _row("`POST /api/auth/login`, 1 client", results["logins"]),
            _row(
                f"`POST /api/auth/login`, {args.clients} clients",
                results["logins_concurrent"],
                results["logins_wall"],
            ),
        ],
    )
    parts_table = _report.table(
        ["part (in the bench process)", "n", "median", "p95"],
        [
            [name, len(v), _harness.ms(s.median), _harness.ms(s.p95)]
            for name, v in results["in_process"].items()
            for s in [_harness.Stats.of(v)]
        ],
    )
    warm = ", ".join(_harness.ms(t) for t in results["warmup"])
    body = "\n".join(
        [
            "Wall clock per request, measured by the client (HTTP/1.1 on loopback, "
            "one connection per request):",
            "",
            main_table,
            "",
            f"Warm-up registrations, not counted: {warm} (the first builds the "
            "template).",
            "",
            "Where a registration's time goes, timed in the bench process "
            "(same server; not over HTTP):",
            "",
            parts_table,
            "",
            "Checks after the run:",
            "",
            *(f"- {line}" for line in results["checks"]),
        ]
    )
    print()
    print(main_table)
    print()
    print(parts_table)
    print(*results["checks"], sep="\n")
    verdicts = [
        _report.Verdict(
            target="`POST /api/auth/register` end to end, tenant database ready",
            spec="median <= 0.3 s",
            measured=(
                f"HTTP, gunicorn {args.workers} workers, 1 client: median "
                f"{_harness.ms(seq.median)}, p95 {_harness.ms(seq.p95)} "
                f"(n={seq.n}); login median {_harness.ms(login.median)}"
            ),
            verdict="met" if seq.median <= 0.3 else "not met",
        )
    ]
    config = [
        f"code: {args.code}",
        f"`gunicorn config.wsgi -w {args.workers}` (sync workers) on a free port, "
        "started and stopped by the script",
        f"registry database `{setup.registry}`, tenant prefix `{setup.prefix}`, one "
        "PostgreSQL server (the same as the registry)",
        f"Redis cache `{env['REDIS_URL']}` with key prefix "
        f"`{env['CACHE_KEY_PREFIX']}` (its keys deleted afterwards); "
        "RATE_LIMITS=off, DEBUG=false, TENANT_POOL_MAX_SIZE=1",
        f"{args.count} sequential registrations after {args.warmup} warm-up ones; "
        f"then {args.concurrent_count} from {args.clients} clients at once",
        f"{args.logins} logins from 1 client, then {args.logins} from "
        f"{args.clients} clients, cycling over the registered owners (argon2: "
        "ARGON2_TIME_COST=2, ARGON2_MEMORY_KIB=19456, the defaults)",
        "each registration is followed (untimed in its figure) by a "
        "`GET /api/members` with the new access token, which must answer 200",
    ]
    if not args.no_report:
        _report.write_section(
            "auth",
            title="Registration and login over HTTP (`bench/auth.py`)",
            pg_version=pg_version,
            config=config,
            body=body,
            verdicts=verdicts,
        )
        print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


if __name__ == "__main__":
    main()
