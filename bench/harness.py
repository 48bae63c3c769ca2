"""What every benchmark stands on: its own registry and tenants, set up and dropped.

A run owns a registry database `churchtext_bench_NAME` and the tenant databases
and roles prefixed `bench_NAME_`: `run()` drops what an earlier, killed run
left, bootstraps, and drops everything again afterwards, also on failure or
Ctrl-C. `configure()` must come before anything loads a Django model: the
settings module reads the environment once, at import.
"""

import argparse
import bisect
import itertools
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import product

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks"
PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))  # see servers.on_own_cluster
SERVER_URL = f"postgres://postgres@127.0.0.1:{PORT}"
REDIS = "redis://127.0.0.1:6379"
CACHE_DB = 14  # the shared Redis's database for the benches' caches
PASSWORD = "correct horse battery staple 42"
APP_NAME = "bench"  # application_name of our own admin sessions
SHARED = {  # options of several benchmarks: default and help
    "out": (RESULTS, "JSON results to (default %(default)s; another for trial runs)"),
    "tenants": (1000, "tenants to provision"),
    "threads": (4, "worker threads"),
    "workers": (2, "gunicorn workers"),
    "clients": (8, "concurrent clients"),
    "lru": (100, "tenant aliases per process (TENANT_CONNECTION_LRU_SIZE)"),
    "zipf_s": (1.0, "Zipf exponent of tenant popularity"),
    "seed": (1, "random seed"),
}


def arguments(doc: str, shared: str = "", **defaults: Any) -> argparse.ArgumentParser:
    """A parser with `--out` and the `SHARED` options named in `shared` (at their
    usual default) or in `defaults` (at the benchmark's own)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name in ["out", *shared.split(), *defaults]:
        default = defaults.get(name, SHARED[name][0])
        option, text = "--" + name.replace("_", "-"), SHARED[name][1]
        parser.add_argument(option, type=type(default), default=default, help=text)
    return parser


@dataclass
class Setup:
    """The names one run owns and the settings it runs with."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    web: bool = False  # the settings of benches that start servers

    def __post_init__(self) -> None:
        self.registry = f"churchtext_bench_{self.name}"
        self.prefix = f"bench_{self.name}_"
        self.like = self.prefix.replace("_", r"\_") + "%"  # as a LIKE pattern

    def settings(self) -> dict[str, str]:
        env = {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"{SERVER_URL}/{self.registry}",
            "TENANT_DB_SERVERS": SERVER_URL,
            "TENANT_DB_PREFIX": self.prefix,
            "LOG_LEVEL": "WARNING",
            "APP_ENV": os.environ.get("APP_ENV", "development"),
        }
        if self.web:  # no token expires during a run
            env |= {"RATE_LIMITS": "off", "REDIS_URL": f"{REDIS}/{CACHE_DB}",
                    "CACHE_KEY_PREFIX": f"bench_{self.name}", "ALLOWED_HOSTS": "*",
                    "DEBUG": "false", "ACCESS_TOKEN_SECONDS": "86400"}  # fmt: skip
        return env | self.env


def configure(setup: Setup) -> None:
    os.environ.update(setup.settings())
    import django

    django.setup()


def service_env(**extra: str) -> dict[str, str]:
    """This process's environment for a server it starts (after `configure`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the wsgi/celery modules set theirs
    return env | extra


def pg(dbname: str = "postgres", port: int = PORT, timeout: int = 5) -> Any:
    """A superuser session (autocommit), apart from the app's connections."""
    import psycopg

    info = f"host=127.0.0.1 port={port} user=postgres dbname={dbname}"
    return psycopg.connect(
        info, autocommit=True, connect_timeout=timeout, application_name=APP_NAME
    )


def pg_value(query: str, params: Any = (), dbname: str = "postgres") -> Any:
    """The first value of a query's first row, in a session of its own."""
    with pg(dbname) as conn:
        return conn.execute(query, params).fetchone()[0]


def opening_sessions[T](
    setup: Setup, work: Callable[..., T], *args: Any
) -> tuple[T, int]:
    """`work(*args)`, and the sessions it opened to this run's tenant databases
    (pg_stat_database, flushed about once a second)."""
    query = "SELECT sum(sessions) FROM pg_stat_database WHERE datname LIKE %s"
    time.sleep(1.2)
    before = int(pg_value(query, [setup.like]) or 0)
    done = work(*args)
    time.sleep(1.2)
    return done, int(pg_value(query, [setup.like]) or 0) - before


def drop_database(name: str) -> None:
    from psycopg import sql

    ident = sql.Identifier(name)
    with pg() as conn:
        if conn.execute("SELECT FROM pg_database WHERE datname = %s", [name]).rowcount:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident))
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))


def drop_everything(setup: Setup) -> int:
    """Drop the run's databases (template included), roles and registry."""
    from psycopg import sql

    with pg() as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s OR datname = %s",
            [setup.like, setup.registry],
        ).fetchall()
        # A few sessions at once: 1,000 databases take a while.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(drop_database, [name for (name,) in names]))
        query = "SELECT rolname FROM pg_roles WHERE rolname LIKE %s"
        roles = conn.execute(query, [setup.like]).fetchall()
        for (role,) in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    return len(names) + len(roles)


def release_django() -> None:
    """Close every connection and pool this process holds (registry and tenants)."""
    from django.db import connections as django_connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    product.connections._sweeper_stop.set()
    try:
        product.connections.forget_all()
    except Exception as exc:  # cleanup must go on
        print(f"  forget_all failed: {exc!r}", file=sys.stderr)
    django_connections.close_all()
    for alias in list(DatabaseWrapper._connection_pools):
        pool = DatabaseWrapper._connection_pools.pop(alias, None)
        try:
            if pool is not None:
                pool.close(timeout=2)
        except Exception as exc:
            print(f"  closing pool {alias} failed: {exc!r}", file=sys.stderr)


def redis_keys(url: str) -> set[bytes]:
    import redis

    with redis.Redis.from_url(url) as client:
        return set(client.scan_iter(count=1000))


def delete_redis_keys(url: str, pattern: str = "*", keep: set[bytes] = set()) -> int:  # noqa: B006
    """Delete the keys matching `pattern`, except those in `keep`."""
    import redis

    with redis.Redis.from_url(url) as client:
        keys = [k for k in client.scan_iter(match=pattern, count=1000) if k not in keep]
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    return len(keys)


@contextmanager
def run(setup: Setup) -> Iterator[None]:
    """Configure Django, bootstrap a clean registry; drop everything afterwards."""
    from django.core.management import call_command

    configure(setup)
    if stale := drop_everything(setup):  # a previous run killed before its cleanup
        print(f"removed {stale} databases and roles of an earlier run")
    try:
        call_command("bootstrap", verbosity=0)
        yield
    finally:
        print("cleaning up ...", flush=True)
        release_django()
        dropped = drop_everything(setup)
        left = drop_everything(setup)
        print(f"dropped {dropped} databases and roles; {left} were left")
        if setup.web and setup.settings()["REDIS_URL"].startswith(REDIS):
            prefix = setup.settings()["CACHE_KEY_PREFIX"]
            removed = delete_redis_keys(f"{REDIS}/{CACHE_DB}", f"{prefix}:*")
            print(f"removed {removed} Redis cache keys")


def provision_many(
    count: int, *, threads: int = 4, label: str = "Bench Church"
) -> tuple[list[Any], list[float]]:
    """Provision `count` tenants from a few threads: the tenants (oldest first)
    and the seconds each took. The first builds the template alone."""
    from django.db import connections as django_connections

    def one(i: int) -> tuple[Any, float]:
        started = time.perf_counter()
        try:
            tenant = product.provisioning.provision_tenant(name=f"{label} {i}")
        finally:
            django_connections.close_all()
        return tenant, time.perf_counter() - started

    results = [one(0)] if count else []
    started = time.perf_counter()
    step = max(1, count // 10)
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        futures = [pool.submit(one, i) for i in range(1, count)]
        for done, future in enumerate(as_completed(futures), 2):
            results.append(future.result())
            if done % step == 0 or done == count:
                elapsed = time.perf_counter() - started
                print(f"  provisioned {done}/{count} in {elapsed:.0f}s", flush=True)
    finally:
        # On an error or Ctrl-C, do not provision the rest before cleaning up.
        pool.shutdown(wait=True, cancel_futures=True)
    results.sort(key=lambda pair: pair[0].created_at)
    for tenant, _ in results:  # a trial's 200 segments would stop a bench
        product.subscribe(tenant, "growth", by="bench")
    return [t for t, _ in results], [s for _, s in results]


def active_tenants() -> list[Any]:
    active = product.Tenant.objects.filter(status=product.Tenant.Status.ACTIVE)
    return list(active.select_related("server").order_by("created_at"))


def add_members(
    tenant: Any, rows: list[dict[str, Any]], tags: dict[int, str] | None = None
) -> list[str]:
    """Bulk-insert members (field dicts) into one tenant, `tags` by row index;
    then let go of the tenant's connection. Returns the new members' ids."""
    from django.db import connections as django_connections

    Member, MemberTag = product.Member, product.MemberTag
    members = [Member(**row) for row in rows]
    try:
        with product.tenant_context(tenant, direct=True):  # past any pooler
            # A tag's member is routed on assignment: build them inside.
            links = [
                MemberTag(member=members[i], name=n) for i, n in (tags or {}).items()
            ]
            Member.objects.bulk_create(members, batch_size=5000)
            MemberTag.objects.bulk_create(links, batch_size=5000)
    finally:
        product.connections.forget(product.direct_alias(tenant))
        django_connections.close_all()
    return [str(m.id) for m in members]


def add_owners(tenants: list[Any], *, one_user: bool = False) -> list[dict[str, Any]]:
    """An owner for each tenant (or one owner of all), password `PASSWORD`;
    per tenant its owner's email and a fresh token pair."""
    from django.contrib.auth.hashers import make_password

    User, Membership = product.User, product.Membership
    hashed, owner = make_password(PASSWORD), Membership.Role.OWNER
    emails = [
        f"owner{0 if one_user else i}@bench.example.org" for i in range(len(tenants))
    ]
    users = User.objects.bulk_create(
        [User(email=e, password=hashed) for e in dict.fromkeys(emails)], batch_size=500
    )
    pairs = list(zip(users * len(tenants) if one_user else users, tenants, strict=True))
    Membership.objects.bulk_create(
        [Membership(user=u, tenant=t, role=owner) for u, t in pairs], batch_size=500
    )
    return [
        {"email": u.email} | product.issue_tokens(user_id=u.id, tenant=t, role=owner)
        for u, t in pairs
    ]


def zipf(n: int, s: float, seed: int) -> Callable[[random.Random], int]:
    """rng -> index in range(n), Zipf(s)-skewed over a fixed random ranking."""
    ranking = random.Random(seed).sample(range(n), n)
    cumulative = list(itertools.accumulate(1 / (rank + 1) ** s for rank in range(n)))
    total = cumulative[-1]

    def pick(rng: random.Random) -> int:
        return ranking[min(bisect.bisect(cumulative, rng.random() * total), n - 1)]

    return pick


def run_clients(clients: int, work: Callable[[int], None]) -> float:
    """Run `work(i)` in `clients` threads started together; returns wall seconds.
    The first exception of any thread is raised once all have ended."""
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def clock[T](work: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    started = time.perf_counter()
    return work(*args, **kwargs), time.perf_counter() - started


def timed(count: int, clients: int, one: Callable[[], float]) -> tuple[list, float]:
    """`count` calls of `one()` (it returns its latency) spread over `clients`
    threads: the latencies, and the wall seconds of them all."""
    latencies: list[float] = []
    share = shares(count, clients)
    wall = run_clients(
        clients, lambda i: latencies.extend([one() for _ in range(share[i])])
    )
    return latencies, wall


def shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal whole shares."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def percentile(values: list[float], q: int) -> float:  # linear interpolation
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


STATS = {"median": median, "p95": lambda v: percentile(v, 95), "min": min, "max": max,
         "p99": lambda v: percentile(v, 99), "mean": statistics.fmean}  # fmt: skip


def stats(
    values: list[float], keys: str = "median p95 min max", unit: str = "ms",
    n: bool = True, prefix: str = "",
) -> dict[str, Any]:  # fmt: skip
    """Summary of seconds as result columns, e.g. {"n": 30, "median_ms": 67.8};
    `prefix` goes before each key but "n"."""
    scale, digits = {"ms": (1000, 1), "s": (1, 2)}[unit]
    out: dict[str, Any] = {"n": len(values)} if n else {}
    for key in keys.split():
        value = round(STATS[key](values) * scale, digits) if values else None
        out[f"{prefix}{key}_{unit}"] = value
    return out
