"""Fleet size: many tenants in one registry, then a no-op `migrate_tenants` over them.

`--backend sqlite` runs the embedded default (the registry and one file per
tenant in a temporary directory, removed afterwards); `--backend postgres` one
PostgreSQL server (about 8 MB of catalogs per tenant database: free disk is
checked first). Tenants are provisioned from `--threads` threads; the no-op
`migrate_tenants(parallel=4)` is timed three times.
"""

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench import harness, product, report

MB = 1024 * 1024


@contextmanager
def sqlite_run(tenants: int):
    """Like `harness.run`, on SQLite files in a directory removed afterwards."""
    from django.core.management import call_command

    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    env = {
        "DATABASE_URL": f"sqlite:///{workdir / 'registry.sqlite3'}",
        "TENANT_DB_SERVERS": f"sqlite:///{workdir / 'tenants'}",
        "TENANT_SERVER_CAPACITY": str(tenants * 2),
    }
    try:
        harness.configure(harness.Setup("scale", env))
        call_command("bootstrap", verbosity=0)
        yield lambda: (
            sum(p.stat().st_size for p in (workdir / "tenants").rglob("*")),
            (workdir / "registry.sqlite3").stat().st_size,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def postgres_run(tenants: int):
    setup = harness.Setup("scale", {"TENANT_SERVER_CAPACITY": str(tenants * 2)})
    with harness.run(setup), harness.pg() as conn:
        yield lambda: conn.execute(
            "SELECT (SELECT coalesce(sum(pg_database_size(datname)), 0) FROM "
            "pg_database WHERE datname LIKE %s), pg_database_size(%s)",
            [setup.like, setup.registry],
        ).fetchone()


def main() -> None:
    parser = harness.arguments(__doc__, "threads")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tenants", type=int, help="default 10,000 / 1,000")
    args = parser.parse_args()
    postgres = args.backend == "postgres"
    goal = 1000 if postgres else 10_000
    args.tenants = args.tenants or goal
    free = shutil.disk_usage("/var/lib/postgresql").free // MB if postgres else None
    if free is not None and free < args.tenants * 18:
        parser.error(f"not enough free disk: {free} MB")
    started = time.perf_counter()
    with (postgres_run if postgres else sqlite_run)(args.tenants) as sizes:
        tenants, seconds = harness.provision_many(args.tenants, threads=args.threads)
        wall = time.perf_counter() - started
        disk, registry = sizes()
        migrate, skipped = [], 0
        for _ in range(3):
            fleet, took = harness.clock(product.migrating.migrate_tenants, parallel=4)
            migrate.append(took)
            skipped += fleet.skipped
            if fleet.migrated or fleet.failed:
                raise RuntimeError(f"not a no-op: {fleet}")
    n, noop_ms = len(tenants), round(harness.median(migrate) * 1e3, 1)
    results = {
        "tenants provisioned": n,
        "wall_s": round(wall),
        **harness.stats(seconds, "median p95", n=False, prefix="per tenant "),
        "tenant databases on disk_mb": round(disk / MB),
        "per tenant database_kb": round(disk / n / 1024),
        "registry size_mb": round(registry / MB, 1),
        "no-op migrate_tenants (median of 3)_ms": noop_ms,
        "skipped by each no-op": skipped // 3,
    }
    results = {"fleet": results}
    targets = [
        report.target(
            f"tenants in one registry ({args.backend})",
            "10,000 SQLite / 1,000 PostgreSQL provisioned without a fault",
            f"{n:,} in {round(wall)} s",
            (args.tenants - n, "==", 0),
            (n if n >= goal else None, ">=", goal),  # fewer: not measured
        )
    ]
    report.save(f"scale-{args.backend}", args, results, targets, postgres=postgres)


if __name__ == "__main__":
    main()
