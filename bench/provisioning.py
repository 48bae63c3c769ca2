"""Provisioning a tenant on PostgreSQL: template clone against create + migrate.

`provision_tenant(name=...)`, timed per tenant, both paths interleaved in one
process (clone, slow, slow, clone, ...). On the slow path
`PostgresServer.clone_template` raises, sending provisioning down its real
fallback (drop what the clone left, create empty, migrate every tenant app). The
first tenant of each path is an uncounted warm-up (the first clone builds the
template). Where the time goes: the provisioning step hooks.
"""

import itertools
import logging
import time
from contextlib import nullcontext
from typing import Any
from unittest import mock

from bench import harness, product, report

STEPS = [  # each from one provisioning step hook to the next
    "place (slug, server, registry row)",
    "create database (ping, template check, clone or create)",
    "migrate (check on a new connection; full migrate on the slow path)",
    "activate (conditional update)",
    "reload the row",
]
HOOKS = ["start", "placed", "database_created", "migrated", "activated", "end"]
SEGMENTS = dict(zip(STEPS, itertools.pairwise(HOOKS), strict=True))


def measure(count: int) -> dict[str, Any]:
    PostgresServer, provisioning = product.PostgresServer, product.provisioning
    marks: dict[str, float] = {}
    provisioning.step_hooks.append(
        lambda step, _: marks.update({step: time.perf_counter()})
    )
    creates = [0]
    real_create = PostgresServer.create_database

    def counting_create(self: Any, **kwargs: Any) -> None:
        creates[0] += 1
        real_create(self, **kwargs)

    def refuse_clone(self: Any, **kwargs: Any) -> None:
        raise RuntimeError("clone disabled by bench.provisioning")

    paths = {
        "clone": nullcontext,
        "create+migrate": lambda: mock.patch.object(
            PostgresServer, "clone_template", refuse_clone
        ),
    }
    times: dict[str, list[float]] = {p: [] for p in paths}
    steps = {p: {s: [] for s in SEGMENTS} for p in paths}
    warmup, wrong = {}, []
    quiet = logging.getLogger("tenants.provisioning")  # the fallback logs a traceback

    def provision(path: str, i: int) -> None:
        marks.clear()
        marks["start"], before = time.perf_counter(), creates[0]
        quiet.disabled = path != "clone"
        with paths[path]():
            tenant = provisioning.provision_tenant(name=f"Bench {path} {i}")
        quiet.disabled = False
        marks["end"] = time.perf_counter()
        if (creates[0] > before) != (path != "clone") or tenant.status != "active":
            wrong.append(f"{path} #{i}: {tenant.status}")
        took = marks["end"] - marks["start"]
        if i < 0:
            warmup[f"warm-up {path}_ms"] = round(took * 1000, 1)
            return
        times[path].append(took)
        for name, (a, b) in SEGMENTS.items():
            steps[path][name].append(marks[b] - marks[a])

    with mock.patch.object(PostgresServer, "create_database", counting_create):
        for path in paths:
            provision(path, -1)
        for i in range(count):
            for path in paths if i % 2 == 0 else reversed(paths):
                provision(path, i)
            print(f"  {i + 1}/{count}", flush=True)
    median = harness.median
    return {
        "provision_tenant per tenant, wall clock": [
            {"path": p, **harness.stats(v, "median p95 min max mean")}
            for p, v in times.items()
        ],
        "where the time goes (medians of the step hooks)": [
            {"step": step}
            | {f"{p}_ms": round(median(steps[p][step]) * 1000, 1) for p in paths}
            for step in SEGMENTS
        ],
        "runs": warmup | {
            "create+migrate / clone (medians)_x": round(
                median(times["create+migrate"]) / median(times["clone"]), 1
            ),
            "every tenant active, create_database on the slow path only": not wrong,
            "problems": wrong[:5],
        },
    }  # fmt: skip


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--count", type=int, default=30, help="tenants per path")
    args = parser.parse_args()
    # Without a ready pool: each provisioning makes its database (clone or create).
    with harness.run(harness.Setup("provisioning", {"TENANT_READY_POOL": "0"})):
        results = measure(args.count)
    clone = results["provision_tenant per tenant, wall clock"][0]
    targets = [
        report.target(
            "provisioning, the part of `POST /api/auth/register` that makes the "
            "tenant database (end to end: bench auth)",
            "within the registration's median <= 0.3 s",
            f"clone path: median {clone['median_ms']} ms, p95 {clone['p95_ms']} ms",
            (clone["median_ms"], "<=", 300),
        )
    ]
    config = {"tenant schema": "every migration of the tenant apps",
              "TENANT_READY_POOL": 0}  # fmt: skip
    report.save("provisioning", args, results, targets, config=config)


if __name__ == "__main__":
    main()
