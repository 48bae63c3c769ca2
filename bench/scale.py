"""Fleet size: provision many tenants, then time a no-op `migrate_tenants` over them.

    .venv/bin/python bench/scale.py --backend sqlite --tenants 10000
    .venv/bin/python bench/scale.py --backend postgres --tenants 1000

SQLite runs the embedded default (registry and one file per tenant in a
temporary directory, removed afterwards). PostgreSQL uses bench/_harness.py
(its own registry database and prefix; everything dropped afterwards; free
disk is checked first: a tenant database is about 8 MB of catalogs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _report  # noqa: E402

MB = 1024 * 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tenants", type=int, default=None)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    if args.tenants is None:
        args.tenants = 10_000 if args.backend == "sqlite" else 1_000
    return args


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def provision(count: int, threads: int) -> tuple[float, list[float]]:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from tenants.provisioning import provision_tenant

    def one(i: int) -> float:
        began = time.perf_counter()
        try:
            provision_tenant(name=f"Scale Church {i}")
        finally:
            connections.close_all()
        return time.perf_counter() - began

    started = time.perf_counter()
    times: list[float] = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for n, took in enumerate(pool.map(one, range(count)), start=1):
            times.append(took)
            if n % 500 == 0:
                print(
                    f"  {n}/{count} in {time.perf_counter() - started:.0f}s", flush=True
                )
    return time.perf_counter() - started, times


def noop_migrate(repeat: int = 3) -> tuple[list[float], int]:
    from tenants.migrating import migrate_tenants

    took, skipped = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        report = migrate_tenants(parallel=4)
        took.append(time.perf_counter() - began)
        skipped = report.skipped
        assert not report.migrated
        assert not report.failed
    return took, skipped


def run_sqlite(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="churchtext-scale-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'registry.sqlite3'}",
        TENANT_DB_SERVERS=f"sqlite:///{workdir / 'tenants'}",
        TENANT_DB_PREFIX="scale_",
        TENANT_SERVER_CAPACITY=str(args.tenants * 2),
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(_harness.ROOT))
    os.chdir(_harness.ROOT)
    import django

    django.setup()
    try:
        from django.core.management import call_command

        call_command("bootstrap", verbosity=0)
        total, times = provision(args.tenants, args.threads)
        migrate_times, skipped = noop_migrate()
        return {
            "total": total,
            "per_tenant": _harness.Stats.of(times),
            "disk": directory_size(workdir / "tenants"),
            "registry": (workdir / "registry.sqlite3").stat().st_size,
            "migrate": _harness.Stats.of(migrate_times),
            "skipped": skipped,
            "pg": "n/a (SQLite)",
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_postgres(args: argparse.Namespace) -> dict:
    free = shutil.disk_usage("/var/lib/postgresql").free
    needed = args.tenants * 9 * MB
    if free < needed * 2:
        raise SystemExit(
            f"not enough free disk: {free // MB} MB, want {2 * needed // MB}"
        )
    setup = _harness.Setup(
        registry="churchtext_bench_scale",
        prefix="bench_scale_",
        extra_env={"TENANT_SERVER_CAPACITY": str(args.tenants * 2)},
    )
    _harness.configure(setup)
    pg = _harness.pg_version()
    with _harness.benchmark_run(setup):
        total, times = provision(args.tenants, args.threads)
        with _harness.admin_connection() as conn:
            disk = conn.execute(
                "SELECT coalesce(sum(pg_database_size(datname)), 0) FROM pg_database "
                "WHERE datname LIKE %s",
                [setup.like],
            ).fetchone()[0]
            registry = conn.execute(
                "SELECT pg_database_size(%s)", [setup.registry]
            ).fetchone()[0]
        migrate_times, skipped = noop_migrate()
    return {
        "total": total,
        "per_tenant": _harness.Stats.of(times),
        "disk": disk,
        "registry": registry,
        "migrate": _harness.Stats.of(migrate_times),
        "skipped": skipped,
        "pg": pg,
    }


def main() -> None:
    args = parse_args()
    print(f"provisioning {args.tenants} tenants on {args.backend} ...", flush=True)
    result = run_sqlite(args) if args.backend == "sqlite" else run_postgres(args)
    rows = [
        ["tenants provisioned", f"{args.tenants:,} (no fault)"],
        ["wall time", f"{result['total']:.0f} s ({args.threads} threads)"],
        [
            "per tenant",
            f"median {_harness.ms(result['per_tenant'].median)}, "
            f"p95 {_harness.ms(result['per_tenant'].p95)}",
        ],
        [
            "tenant databases on disk",
            f"{result['disk'] / MB:,.0f} MB "
            f"({result['disk'] / args.tenants / 1024:,.0f} "
            "KB each)",
        ],
        ["registry size", f"{result['registry'] / MB:,.1f} MB"],
        [
            "no-op migrate_tenants (median of 3)",
            f"{result['migrate'].median:.2f} s ({result['skipped']:,} skipped)",
        ],
    ]
    table = _report.table(["what", "measured"], rows)
    print(table)
    if args.no_report:
        return
    name = f"scale-{args.backend}"
    _report.write_section(
        name,
        title=f"Scale: {args.tenants:,} tenants on {args.backend} (`bench/scale.py`)",
        pg_version=result["pg"],
        config=[f"backend {args.backend}, {args.threads} provisioning threads"],
        body=table,
        verdicts=[
            _report.Verdict(
                target=f"tenants in one registry ({args.backend})",
                spec="10,000 SQLite / 1,000 PostgreSQL provisioned without a fault",
                measured=f"{args.tenants:,} in {result['total']:.0f} s",
                verdict="met",
            ),
        ],
    )


if __name__ == "__main__":
    main()
