"""What every benchmark needs: its own registry and prefix, setup, cleanup, stats.

`configure()` must run before anything imports Django models: the settings
module reads the environment once, at import.
"""

from __future__ import annotations

import os
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

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = "postgres://postgres@127.0.0.1:5432"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@dataclass
class Setup:
    """Names this benchmark run owns; everything carrying them is dropped after."""

    registry: str
    prefix: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def like(self) -> str:
        """The prefix as a LIKE pattern (underscores escaped)."""
        return self.prefix.replace("_", r"\_") + "%"


def configure(setup: Setup) -> None:
    """Point Django at the benchmark's registry and prefix, then set it up."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = f"{SERVER_URL}/{setup.registry}"
    os.environ["TENANT_DB_SERVERS"] = SERVER_URL
    os.environ["TENANT_DB_PREFIX"] = setup.prefix
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("APP_ENV", "development")
    os.environ.update(setup.extra_env)
    import django

    django.setup()


def admin_connection() -> Any:
    """A superuser connection to the maintenance database (autocommit)."""
    import psycopg

    return psycopg.connect(**PG, dbname="postgres", autocommit=True, connect_timeout=5)


def pg_version() -> str:
    with admin_connection() as conn:
        return conn.execute("SELECT version()").fetchone()[0]


def bootstrap() -> None:
    from django.core.management import call_command

    call_command("bootstrap", verbosity=0)


def release_django() -> None:
    """Close every connection and pool this process holds (registry and tenants)."""
    from django.db import connections as django_connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    from tenants import connections

    connections._sweeper_stop.set()
    try:
        connections.forget_all()
    except Exception as exc:  # cleanup must go on
        print(f"  forget_all failed: {exc!r}", file=sys.stderr)
    django_connections.close_all()
    for alias in list(DatabaseWrapper._connection_pools):
        pool = DatabaseWrapper._connection_pools.pop(alias, None)
        if pool is not None:
            try:
                pool.close(timeout=2)
            except Exception as exc:
                print(f"  closing pool {alias} failed: {exc!r}", file=sys.stderr)


def drop_everything(setup: Setup) -> tuple[int, int]:
    """Drop the prefixed databases (template included), roles and the registry."""
    from psycopg import sql

    with admin_connection() as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s OR datname = %s",
                [setup.like, setup.registry],
            ).fetchall()
        ]
    dropped_dbs = _drop_databases(names)
    dropped_roles = 0
    with admin_connection() as conn:
        for (role,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [setup.like]
        ).fetchall():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            dropped_roles += 1
    return dropped_dbs, dropped_roles


def leftovers(setup: Setup) -> int:
    """How many databases or roles of this run still exist (0 after cleanup)."""
    with admin_connection() as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE %(l)s "
            "OR datname = %(r)s) + (SELECT count(*) FROM pg_roles WHERE rolname "
            "LIKE %(l)s)",
            {"l": setup.like, "r": setup.registry},
        ).fetchone()[0]


def _drop_databases(names: list[str], workers: int = 4) -> int:
    """Drop databases from a few connections at once (1,000 take a while)."""
    from psycopg import sql

    def drop(chunk: list[str]) -> int:
        done = 0
        with admin_connection() as conn:
            for name in chunk:
                ident = sql.Identifier(name)
                conn.execute(
                    sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident)
                )
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident)
                )
                done += 1
        return done

    chunks = [names[i::workers] for i in range(workers) if names[i::workers]]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(drop, chunks))


@contextmanager
def benchmark_run(setup: Setup) -> Iterator[None]:
    """Bootstrap a clean registry; drop everything of this run afterwards."""
    stale = drop_everything(setup)  # a previous run killed before its cleanup
    if any(stale):
        print(f"removed leftovers of an earlier run: {stale[0]} db, {stale[1]} roles")
    try:
        bootstrap()
        yield
    finally:
        print("cleaning up ...", flush=True)
        release_django()
        started = time.perf_counter()
        dbs, roles = drop_everything(setup)
        left = leftovers(setup)
        print(
            f"dropped {dbs} databases and {roles} roles in "
            f"{time.perf_counter() - started:.1f}s; {left} left"
        )


# --- statistics ---------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Stats:
    n: int
    median: float
    p95: float
    min: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        return cls(
            n=len(values),
            median=statistics.median(values),
            p95=percentile(values, 95),
            min=min(values),
            max=max(values),
            mean=statistics.fmean(values),
        )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- provisioning many tenants --------------------------------------------------


def provision_many(
    count: int, *, threads: int, label: str = "Bench Church"
) -> tuple[list[Any], list[float]]:
    """Provision `count` tenants from a few threads; returns them and their times."""
    from django.db import connections as django_connections

    from tenants.provisioning import provision_tenant

    def one(i: int) -> tuple[Any, float]:
        started = time.perf_counter()
        try:
            tenant = provision_tenant(name=f"{label} {i}")
        finally:
            django_connections.close_all()
        return tenant, time.perf_counter() - started

    tenants: list[Any] = []
    seconds: list[float] = []
    started = time.perf_counter()
    step = max(1, count // 20)
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        futures = [pool.submit(one, i) for i in range(count)]
        for done, future in enumerate(as_completed(futures), 1):
            tenant, took = future.result()
            tenants.append(tenant)
            seconds.append(took)
            if done % step == 0 or done == count:
                elapsed = time.perf_counter() - started
                print(
                    f"  provisioned {done}/{count} in {elapsed:.0f}s "
                    f"({done / elapsed:.1f}/s)",
                    flush=True,
                )
    finally:
        # On an error or Ctrl-C, do not provision the rest before cleaning up.
        pool.shutdown(wait=True, cancel_futures=True)
    return tenants, seconds


# --- watching pg_stat_activity --------------------------------------------------


class ConnectionSampler(threading.Thread):
    """Counts this run's tenant connections in pg_stat_activity, continuously."""

    def __init__(self, setup: Setup, interval: float = 0.01) -> None:
        super().__init__(name="pg-stat-sampler", daemon=True)
        self.like = setup.like
        self.interval = interval
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.latest = 0
        self.peak = 0
        self.samples = 0
        self.listeners: list[Callable[[int], None]] = []
        self.ready = threading.Event()

    def run(self) -> None:
        with admin_connection() as conn:
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s "
                "AND backend_type = 'client backend'"
            )
            while not self.stop_event.is_set():
                count = conn.execute(query, [self.like]).fetchone()[0]
                with self.lock:
                    self.latest = count
                    self.peak = max(self.peak, count)
                    self.samples += 1
                self.ready.set()
                self.stop_event.wait(self.interval)

    def reset_peak(self) -> None:
        """Start a new window; the peak restarts from the next sample."""
        with self.lock:
            self.peak = 0
            self.samples = 0
        self.wait_for_samples(1)

    def wait_for_samples(self, n: int) -> None:
        """Block until `n` samples were taken since the last reset."""
        while True:
            with self.lock:
                if self.samples >= n:
                    return
            time.sleep(self.interval / 2)

    def window(self) -> tuple[int, int, int]:
        """(peak, latest, samples) of the current window."""
        with self.lock:
            return self.peak, self.latest, self.samples

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


def sessions_opened(setup: Setup) -> int:
    """Sessions ever opened to this run's databases (pg_stat_database)."""
    with admin_connection() as conn:
        total = conn.execute(
            "SELECT coalesce(sum(sessions), 0) FROM pg_stat_database "
            "WHERE datname LIKE %s",
            [setup.like],
        ).fetchone()[0]
        return int(total)
