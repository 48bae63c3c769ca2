"""`migrate_tenants` on PostgreSQL: a no-op over 1,000 tenants, then a new migration.

1. With every tenant at the current fingerprint, `migrate_tenants()` must skip
   them all without connecting to any tenant database ("tenant sessions": the
   delta of `pg_stat_database.sessions` over the tenant databases and the
   template during the call); timed over repeats.
2. A migration appears (templates_app 0002_extra_note from
   `tests.tenants.extra_migrations`, a CREATE TABLE, through MIGRATION_MODULES)
   and `migrate_tenants(slugs=..., parallel=--parallel)` runs over disjoint sets
   of `--migrate-count` tenants (only the first also migrates the template).
   "per tenant": `TenantOutcome.seconds`; "peak tenant conns": the most sessions
   on this run's databases in pg_stat_activity (sampled every 50 ms), at most
   `--parallel` (a worker holds one tenant at a time).
"""

from typing import Any
from unittest import mock

from bench import harness, product, report
from bench.sampler import ConnectionSampler


def has_new_table(tenant: Any) -> bool:
    from django.db import connections as django_connections

    with product.tenant_context(tenant):
        tables = django_connections[tenant.alias].introspection.table_names()
        return product.EXTRA_TABLE in tables


def noop(args: Any, setup: Any) -> dict[str, Any]:
    times, sessions, skipped, migrated = [], [], [], 0
    migrate = product.migrating.migrate_tenants
    for _ in range(args.noop_repeats):
        (fleet, took), opened = harness.opening_sessions(setup, harness.clock, migrate)
        times.append(took)
        sessions.append(opened)
        skipped.append(fleet.skipped)
        migrated += len(fleet.migrated) + len(fleet.failed)
    return {"runs": len(times)} | harness.stats(times, n=False) | {
        "skipped": "/".join(map(str, skipped)),
        "tenant sessions": "/".join(map(str, sessions)),
        "migrated or failed": migrated,
    }  # fmt: skip


def new_migration(args: Any, setup: Any, slugs: list[str]) -> list[dict[str, Any]]:
    migrating, template = product.migrating, []
    real_ensure = migrating.ensure_template

    def timed_ensure(server: Any) -> bool:
        done, took = harness.clock(real_ensure, server)
        template.append(took)
        return done

    runs = []
    sampler = ConnectionSampler(setup, interval=0.05).begin()
    with mock.patch.object(migrating, "ensure_template", timed_ensure):
        for i in range(args.migrate_repeats):
            template.clear()
            sampler.reset_peak()
            mine = slugs[i * args.migrate_count : (i + 1) * args.migrate_count]
            fleet, wall = harness.clock(
                migrating.migrate_tenants, slugs=mine, parallel=args.parallel
            )
            per = [o.seconds for o in fleet.migrated]
            runs.append(
                {"run": i + 1, "tenants": len(mine), "wall_s": round(wall, 1),
                 "of which template_s": round(sum(template), 2),
                 "rate_per_s": round(len(mine) / wall, 1),
                 **harness.stats(per, "median p95", n=False, prefix="per tenant "),
                 "migrated": len(fleet.migrated), "failed": len(fleet.failed),
                 "peak tenant conns": sampler.next_sample()[0],
                 "failures": [f"{o.slug}: {o.error}"[:300] for o in fleet.failed][:3]}
            )  # fmt: skip
            print(f"  run {i + 1}: {wall:.1f}s, {len(fleet.failed)} failed", flush=True)
    sampler.stop()
    return runs


def main() -> None:
    parser = harness.arguments(__doc__, "tenants lru")
    parser.add_argument("--noop-repeats", type=int, default=3)
    parser.add_argument("--migrate-count", type=int, default=200)
    parser.add_argument("--migrate-repeats", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    if args.migrate_count * args.migrate_repeats > args.tenants:
        parser.error("--migrate-count x --migrate-repeats must not exceed --tenants")
    from django.conf import settings

    setup = harness.Setup("migrations", {"TENANT_CONNECTION_LRU_SIZE": str(args.lru)})
    with harness.run(setup):
        _, provision_seconds = harness.provision_many(args.tenants)
        slugs = [t.slug for t in harness.active_tenants()]
        skip = noop(args, setup)
        settings.MIGRATION_MODULES = product.EXTRA_MIGRATIONS
        new = product.migrating.current_fingerprint()
        runs = new_migration(args, setup, slugs)
        done = slugs[: args.migrate_count * args.migrate_repeats]
        tenants = product.Tenant.objects.select_related("server")
        ends = tenants.filter(slug__in=[done[0], done[-1]])
        other = tenants.exclude(slug__in=done)[:1]
        behind = tenants.filter(slug__in=done).exclude(migration_fingerprint=new)
        checks = {
            "migrated tenants have the new table": all(map(has_new_table, ends)),
            "other tenants do not": not any(map(has_new_table, other)),
            "migrated tenants record the new fingerprint": not behind.exists(),
        }
    first = runs[0]
    failed = sum(r["failed"] for r in runs)
    results = {
        "provisioning": {"tenants": len(slugs)}
        | harness.stats(provision_seconds[1:], "median p95"),
        "no-op migrate_tenants()": skip,
        "one new migration": runs,
        "checks": checks,
    }
    targets = [
        report.target("`migrate_tenants` one new migration over 200 tenants",
            "<= 60 s with `--parallel 4`", f"{first['wall_s']} s for {first['tenants']}"
            f" tenants incl. the template (parallel {args.parallel}); median of "
            f"{len(runs)} runs {harness.median([r['wall_s'] for r in runs]):.1f} s",
            (first["wall_s"], "<=", 60), (failed, "==", 0),
            (first["tenants"] if first["tenants"] >= 200 else None, ">=", 200)),
        report.target("`migrate_tenants` rerun with every tenant current (a rerun "
            "skips tenants already current)", "seconds; no tenant database connected",
            f"median {skip['median_ms']} ms over {len(slugs)} tenants; tenant sessions "
            f"opened: {skip['tenant sessions']}", (skip["median_ms"], "<", 10_000),
            (max(map(int, skip["tenant sessions"].split("/"))), "==", 0),
            (skip["migrated or failed"], "==", 0)),
    ]  # fmt: skip
    config = {"new migration": product.EXTRA_MIGRATIONS}
    report.save("migrations", args, results, targets, config=config)


if __name__ == "__main__":
    main()
