"""How long `provision_tenant()` takes on PostgreSQL: template clone vs create+migrate.

    .venv/bin/python bench/provisioning.py [--count 30]

Both paths run interleaved in one process (clone, slow, slow, clone, ...) so that
noise on this shared machine hits both alike. The slow path is forced from here
by making `PostgresServer.clone_template` raise, which sends `_create_database`
down its real fallback (drop what the clone left, create empty, migrate).
The first tenant of each path is a warm-up (the first one also builds the
template) and is reported apart.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402
import _report  # noqa: E402

STEPS = ["placed", "database_created", "migrated", "activated"]
SEGMENTS = {
    "place (slug, server, registry row)": ("start", "placed"),
    "create database (ping, template check, clone or create)": (
        "placed",
        "database_created",
    ),
    "migrate (check on a new connection; full migrate on the slow path)": (
        "database_created",
        "migrated",
    ),
    "activate (conditional update)": ("migrated", "activated"),
    "reload the row": ("activated", "end"),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30, help="tenants per path")
    parser.add_argument("--registry", default="churchtext_bench_provisioning")
    parser.add_argument("--prefix", default="bench_prov_")
    parser.add_argument(
        "--no-report", action="store_true", help="do not write docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    return args


class Timeline:
    """Timestamps of provisioning steps, via the step hooks tests use."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    def hook(self, step: str, tenant: Any) -> None:
        self.marks[step] = time.perf_counter()


def main() -> None:
    args = parse_args()
    setup = _harness.Setup(registry=args.registry, prefix=args.prefix)
    _harness.configure(setup)
    pg_version = _harness.pg_version()
    with _harness.benchmark_run(setup):
        results = run(args)
    report(args, setup, pg_version, results)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tenants import provisioning
    from tenants.models import Tenant
    from tenants.servers.postgres import PostgresServer

    timeline = Timeline()
    provisioning.step_hooks.append(timeline.hook)
    creates = {"n": 0}
    real_create = PostgresServer.create_database

    def counting_create(self: PostgresServer, **kwargs: str) -> None:
        creates["n"] += 1
        real_create(self, **kwargs)

    def refuse_clone(self: PostgresServer, **kwargs: str) -> None:
        raise RuntimeError("clone disabled by bench/provisioning.py")

    quiet = logging.getLogger("tenants.provisioning")

    def slow_path() -> AbstractContextManager[Any]:
        return mock.patch.object(PostgresServer, "clone_template", refuse_clone)

    paths: dict[str, Callable[[], AbstractContextManager[Any]]] = {
        "clone": nullcontext,
        "create+migrate": slow_path,
    }
    times: dict[str, list[float]] = {p: [] for p in paths}
    segments: dict[str, dict[str, list[float]]] = {
        p: {s: [] for s in SEGMENTS} for p in paths
    }
    warmup: dict[str, float] = {}
    path_errors: list[str] = []

    def provision(path: str, i: int) -> float:
        timeline.marks = {"start": time.perf_counter()}
        before = creates["n"]
        level = quiet.level
        if path != "clone":
            quiet.setLevel(logging.ERROR)  # the fallback logs a traceback each time
        try:
            with paths[path]():
                tenant = provisioning.provision_tenant(name=f"Bench {path} {i}")
        finally:
            quiet.setLevel(level)
        timeline.marks["end"] = time.perf_counter()
        took = timeline.marks["end"] - timeline.marks["start"]
        used_create = creates["n"] > before
        if used_create != (path != "clone") or tenant.status != Tenant.Status.ACTIVE:
            path_errors.append(f"{path} #{i}: create={used_create} {tenant.status}")
        if i >= 0:
            times[path].append(took)
            for name, (a, b) in SEGMENTS.items():
                segments[path][name].append(timeline.marks[b] - timeline.marks[a])
        return took

    with mock.patch.object(PostgresServer, "create_database", counting_create):
        print("warm-up (the first clone also builds the template) ...", flush=True)
        for path in paths:
            warmup[path] = provision(path, -1)
            print(f"  {path}: {_harness.ms(warmup[path])}")
        for i in range(args.count):
            order = list(paths) if i % 2 == 0 else list(reversed(paths))
            took = {path: provision(path, i) for path in order}
            print(
                f"  {i + 1:3d}/{args.count}  "
                + "  ".join(f"{p} {_harness.ms(t):>10}" for p, t in took.items()),
                flush=True,
            )
    provisioning.step_hooks.remove(timeline.hook)
    failed = Tenant.objects.exclude(status=Tenant.Status.ACTIVE).count()
    return {
        "times": times,
        "segments": segments,
        "warmup": warmup,
        "path_errors": path_errors,
        "not_active": failed,
    }


def report(
    args: argparse.Namespace,
    setup: _harness.Setup,
    pg_version: str,
    results: dict[str, Any],
) -> None:
    times: dict[str, list[float]] = results["times"]
    stats = {path: _harness.Stats.of(values) for path, values in times.items()}
    clone, slow = stats["clone"], stats["create+migrate"]
    ratio = slow.median / clone.median
    main_table = _report.table(
        ["path", "n", "median", "p95", "min", "max", "mean"],
        [
            [
                path,
                s.n,
                _harness.ms(s.median),
                _harness.ms(s.p95),
                _harness.ms(s.min),
                _harness.ms(s.max),
                _harness.ms(s.mean),
            ]
            for path, s in stats.items()
        ],
    )
    steps_table = _report.table(
        ["step (median)", *stats],
        [
            [
                name,
                *(
                    _harness.ms(_harness.Stats.of(results["segments"][p][name]).median)
                    for p in stats
                ),
            ]
            for name in SEGMENTS
        ],
    )
    warm = ", ".join(f"{p} {_harness.ms(t)}" for p, t in results["warmup"].items())
    problems = results["path_errors"] + (
        [f"{results['not_active']} tenants not active"] if results["not_active"] else []
    )
    body = "\n".join(
        [
            "`provision_tenant(name=...)` per tenant, wall clock:",
            "",
            main_table,
            "",
            f"Ratio create+migrate / clone (medians): **{ratio:.1f}x**.",
            "",
            "Where the time goes (medians of the step hooks' timestamps):",
            "",
            steps_table,
            "",
            f"Warm-up runs, not counted: {warm} (the first clone builds the template).",
            "",
            "Checks: every tenant ended `active`; the slow path called "
            "`create_database` every time and the clone path never: "
            + ("yes." if not problems else "NO: " + "; ".join(problems)),
        ]
    )
    print()
    print(main_table)
    print()
    print(steps_table)
    print(f"\nratio create+migrate / clone (medians): {ratio:.1f}x")
    if problems:
        print("PROBLEMS:", *problems, sep="\n  ")
    met = clone.median <= 0.3
    verdicts = [
        _report.Verdict(
            target="provisioning, the part of `POST /api/auth/register` that "
            "makes the tenant database (end to end: bench/auth.py)",
            spec="within the registration's median <= 0.3 s",
            measured=(
                f"clone path: median {_harness.ms(clone.median)}, "
                f"p95 {_harness.ms(clone.p95)}"
            ),
            verdict="met" if met else "not met (provisioning alone is over the budget)",
        ),
    ]
    config = [
        f"{args.count} tenants per path, sequential, interleaved, after one warm-up "
        "tenant per path",
        f"registry database `{setup.registry}`, tenant prefix `{setup.prefix}`, "
        "one PostgreSQL server (the same as the registry)",
        "slow path forced by patching `PostgresServer.clone_template` to raise",
        "tenant schema: every migration of the tenant apps "
        "(members, branches, templates_app, messaging, billing)",
    ]
    if not args.no_report:
        _report.write_section(
            "provisioning",
            title="Provisioning a tenant (`bench/provisioning.py`)",
            pg_version=pg_version,
            config=config,
            body=body,
            verdicts=verdicts,
        )
        print(f"wrote {_report.DOC.relative_to(_report.ROOT)}")


if __name__ == "__main__":
    main()
