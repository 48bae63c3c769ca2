"""`migrate_tenants` on PostgreSQL: a no-op over 1,000 tenants, then a new migration.

    .venv/bin/python bench/migrations.py [--tenants 1000] [--migrate-count 200]

1. With every tenant at the current fingerprint, `migrate_tenants()` must skip
   them all without connecting to any tenant database (checked with
   pg_stat_database.sessions); timed over repeats.
2. A migration appears (the test package `tests.tenants.extra_migrations` adds
   templates_app 0002_extra_note through MIGRATION_MODULES, which changes the
   fingerprint) and `migrate_tenants(slugs=..., parallel=4)` runs over
   `--migrate-count` tenants. Repeats use disjoint sets of tenants, so only the
   first one also migrates the template.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _report  # noqa: E402

EXTRA = {"templates_app": "tests.tenants.extra_migrations.templates_app"}
NEW_TABLE = "templates_app_extranote"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--provision-threads", type=int, default=4)
    parser.add_argument("--noop-repeats", type=int, default=3)
    parser.add_argument("--migrate-count", type=int, default=200)
    parser.add_argument("--migrate-repeats", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument(
        "--lru",
        type=int,
        default=100,
        help="TENANT_CONNECTION_LRU_SIZE of the run (product default 100); each "
        "worker lets go of a tenant's connection once it is migrated",
    )
    parser.add_argument("--registry", default="churchtext_bench_migrations")
    parser.add_argument("--prefix", default="bench_mig_")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.migrate_count * args.migrate_repeats > args.tenants:
        parser.error("--migrate-count x --migrate-repeats must not exceed --tenants")
    return args


def main() -> None:
    args = parse_args()
    setup = _harness.Setup(
        registry=args.registry,
        prefix=args.prefix,
        extra_env={"TENANT_CONNECTION_LRU_SIZE": str(args.lru)},
    )
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    with _harness.benchmark_run(setup):
        results = run(args, setup)
    report(args, setup, pg_version, results)


def tables_of(tenant: Any) -> set[str]:
    from django.db import connections as django_connections

    from tenants.context import tenant_context

    with tenant_context(tenant):
        return set(django_connections[tenant.alias].introspection.table_names())


def run(args: argparse.Namespace, setup: _harness.Setup) -> dict[str, Any]:
    from django.conf import settings

    from tenants import migrating
    from tenants.models import Tenant

    print(f"provisioning {args.tenants} tenants ...", flush=True)
    started = time.perf_counter()
    _harness.provision_many(1, threads=1, label="Warm-up")  # builds the template
    _, provision_seconds = _harness.provision_many(
        args.tenants - 1, threads=args.provision_threads
    )
    provision_wall = time.perf_counter() - started
    active = Tenant.objects.filter(status=Tenant.Status.ACTIVE).count()
    print(f"  {active} active in {provision_wall:.0f}s")

    print("no-op migrate_tenants() ...", flush=True)
    noop: list[float] = []
    noop_sessions: list[int] = []
    noop_reports = []
    for i in range(args.noop_repeats):
        time.sleep(1.2)  # let pg_stat_database catch up with provisioning
        before = _harness.sessions_opened(setup)
        started = time.perf_counter()
        fleet = migrating.migrate_tenants()
        noop.append(time.perf_counter() - started)
        time.sleep(1.2)
        noop_sessions.append(_harness.sessions_opened(setup) - before)
        noop_reports.append(fleet)
        print(
            f"  {i + 1}: {noop[-1]:.3f}s, skipped {fleet.skipped}, "
            f"migrated {len(fleet.migrated)}, failed {len(fleet.failed)}, "
            f"tenant sessions opened {noop_sessions[-1]}",
            flush=True,
        )

    old = migrating.current_fingerprint()
    settings.MIGRATION_MODULES = EXTRA
    new = migrating.current_fingerprint()
    print(f"new migration: fingerprint {old[:12]} -> {new[:12]}", flush=True)
    slugs_all = list(
        Tenant.objects.filter(status=Tenant.Status.ACTIVE)
        .order_by("created_at")
        .values_list("slug", flat=True)
    )
    template_seconds: list[float] = []
    real_ensure = migrating.ensure_template

    def timed_ensure(server: Any) -> bool:
        started = time.perf_counter()
        try:
            return real_ensure(server)
        finally:
            template_seconds.append(time.perf_counter() - started)

    runs: list[dict[str, Any]] = []
    sampler = _harness.ConnectionSampler(setup, interval=0.05)
    sampler.start()
    sampler.ready.wait(10)
    with mock.patch.object(migrating, "ensure_template", timed_ensure):
        for i in range(args.migrate_repeats):
            slugs = slugs_all[i * args.migrate_count : (i + 1) * args.migrate_count]
            template_seconds.clear()
            sampler.reset_peak()
            started = time.perf_counter()
            fleet = migrating.migrate_tenants(slugs=slugs, parallel=args.parallel)
            wall = time.perf_counter() - started
            peak = sampler.window()[0]
            runs.append(
                {
                    "wall": wall,
                    "template": sum(template_seconds),
                    "migrated": len(fleet.migrated),
                    "failed": [f"{o.slug}: {o.error}" for o in fleet.failed],
                    "per_tenant": [o.seconds for o in fleet.migrated],
                    "templates_failed": fleet.templates_failed,
                    "peak": peak,
                }
            )
            print(
                f"  run {i + 1}: {len(slugs)} tenants in {wall:.1f}s (template "
                f"{sum(template_seconds):.2f}s), migrated {len(fleet.migrated)}, "
                f"failed {len(fleet.failed)}, peak tenant connections {peak}",
                flush=True,
            )
    sampler.stop()

    migrated_slugs = slugs_all[: args.migrate_count * args.migrate_repeats]
    sample = list(
        Tenant.objects.select_related("server").filter(
            slug__in=[migrated_slugs[0], migrated_slugs[-1]]
        )
    )
    untouched = list(
        Tenant.objects.select_related("server")
        .filter(status=Tenant.Status.ACTIVE)
        .exclude(slug__in=migrated_slugs)[:1]
    )
    checks = {
        "migrated tenants have the new table": all(
            NEW_TABLE in tables_of(t) for t in sample
        ),
        "other tenants do not": all(NEW_TABLE not in tables_of(t) for t in untouched),
        "migrated tenants record the new fingerprint": not Tenant.objects.filter(
            slug__in=migrated_slugs
        )
        .exclude(migration_fingerprint=new)
        .exists(),
    }
    for name, ok in checks.items():
        print(f"  check: {name}: {'yes' if ok else 'NO'}")
    return {
        "tenants": active,
        "provision_seconds": provision_seconds,
        "provision_wall": provision_wall,
        "noop": noop,
        "noop_sessions": noop_sessions,
        "noop_skipped": [r.skipped for r in noop_reports],
        "noop_migrated": [len(r.migrated) for r in noop_reports],
        "runs": runs,
        "checks": checks,
    }


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    pg_version: str,
    results: dict[str, Any],
) -> None:
    noop = _harness.Stats.of(results["noop"])
    noop_table = _report.table(
        [
            "tenants",
            "runs",
            "median",
            "p95",
            "min",
            "max",
            "skipped",
            "tenant sessions",
        ],
        [
            [
                results["tenants"],
                noop.n,
                f"{noop.median:.3f} s",
                f"{noop.p95:.3f} s",
                f"{noop.min:.3f} s",
                f"{noop.max:.3f} s",
                "/".join(map(str, results["noop_skipped"])),
                "/".join(map(str, results["noop_sessions"])),
            ]
        ],
    )
    runs = results["runs"]
    run_rows = []
    for i, r in enumerate(runs, 1):
        per = _harness.Stats.of(r["per_tenant"]) if r["per_tenant"] else None
        run_rows.append(
            [
                i,
                args.migrate_count,
                f"{r['wall']:.1f} s",
                f"{r['template']:.2f} s",
                f"{args.migrate_count / r['wall']:.1f}",
                _harness.ms(per.median) if per else "-",
                _harness.ms(per.p95) if per else "-",
                r["migrated"],
                len(r["failed"]),
                r["peak"],
            ]
        )
    walls = _harness.Stats.of([r["wall"] for r in runs])
    run_table = _report.table(
        [
            "run",
            "tenants",
            "wall",
            "of which template",
            "tenants/s",
            "per tenant median",
            "per tenant p95",
            "migrated",
            "failed",
            "peak tenant conns",
        ],
        run_rows,
    )
    prov = _harness.Stats.of(results["provision_seconds"])
    failures = [f for r in runs for f in r["failed"]]
    checks = results["checks"]
    body = "\n".join(
        [
            f"Provisioned {results['tenants']} tenants in "
            f"{results['provision_wall']:.0f} s with {args.provision_threads} "
            f"threads (per tenant median {_harness.ms(prov.median)}, p95 "
            f"{_harness.ms(prov.p95)}).",
            "",
            "No-op `migrate_tenants()` (every tenant already at the current "
            'fingerprint); "tenant sessions" is the delta of '
            "`pg_stat_database.sessions` over the tenant databases and the template "
            "during the call (0 = no tenant database was connected to):",
            "",
            noop_table,
            "",
            f"One new migration (templates_app 0002_extra_note, a CREATE TABLE) with "
            f"`migrate_tenants(slugs=<{args.migrate_count} tenants>, "
            f"parallel={args.parallel})`; run 1 also migrates the template, later "
            'runs take the next tenants (template already current). "per tenant" '
            "is the time each worker spent on one tenant (`TenantOutcome.seconds`); "
            '"peak tenant conns" is the most client connections to this run\'s '
            "databases seen in pg_stat_activity (sampled every 50 ms) during the "
            f"run; each worker holds one tenant at a time, so at most "
            f"{args.parallel}.",
            "",
            run_table,
            "",
            f"Median wall time over {walls.n} run(s): {walls.median:.1f} s.",
            "",
            "Checks: "
            + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())
            + ".",
        ]
    )
    if failures:
        body += "\n\nFailures (first 5):\n\n" + "\n".join(
            f"- `{f[:300]}`" for f in failures[:5]
        )
    print()
    print(noop_table)
    print()
    print(run_table)
    first = runs[0]["wall"]
    verdicts = [
        _report.Verdict(
            target="`migrate_tenants` one new migration over 200 tenants",
            spec="<= 60 s with `--parallel 4`",
            measured=f"{first:.1f} s for {args.migrate_count} tenants incl. the "
            f"template (parallel {args.parallel}); median of {walls.n} runs "
            f"{walls.median:.1f} s",
            verdict=(
                "met"
                if first <= 60 and not failures and args.migrate_count >= 200
                else "not met"
            ),
        ),
        _report.Verdict(
            target="`migrate_tenants` rerun with every tenant current (platform.md: "
            "a rerun skips tenants already current)",
            spec="seconds; no tenant database connected",
            measured=f"median {noop.median:.3f} s over {results['tenants']} tenants; "
            f"tenant sessions opened: {max(results['noop_sessions'])}",
            verdict="met"
            if noop.median < 10
            and max(results["noop_sessions"]) == 0
            and not any(results["noop_migrated"])
            else "not met",
        ),
    ]
    config = [
        f"{results['tenants']} tenants, registry `{setup.registry}`, prefix "
        f"`{setup.prefix}`, one PostgreSQL server",
        f"no-op repeated {args.noop_repeats} times; new migration over "
        f"{args.migrate_count} tenants x {args.migrate_repeats} disjoint runs, "
        f"`parallel={args.parallel}` (forked worker processes)",
        f"`TENANT_CONNECTION_LRU_SIZE={args.lru}` (product default 100); a worker "
        "forgets each tenant's alias (and closes its connection) once migrated",
        "the new migration comes from `settings.MIGRATION_MODULES = "
        '{"templates_app": "tests.tenants.extra_migrations.templates_app"}`',
    ]
    if not args.no_report:
        _report.write_section(
            "migrations",
            title="Migrating tenants (`bench/migrations.py`)",
            pg_version=pg_version,
            config=config,
            body=body,
            verdicts=verdicts,
        )
        print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


if __name__ == "__main__":
    main()
