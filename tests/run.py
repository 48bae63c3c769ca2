"""Run the whole suite twice: on the embedded default (SQLite, local cache) and on
PostgreSQL with Redis; then the routing and CRUD tests once more with every
tenant connection through a PgBouncer the suite starts itself. With
REQUIRE_SERVICES=1 a missing service fails the run.

The SQLite run shares nothing with the other two (its own files, no Redis), so
it runs beside them, its output held back and printed when it ends: the
PostgreSQL runs wait on the server's disk while SQLite uses the CPU.

Extra arguments go to pytest; TEST_BACKENDS=sqlite (or postgresql, pgbouncer)
runs one. The whole PostgreSQL run uses TEST_PG_WORKERS (2) pytest-xdist
workers.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

# What a transaction-mode pooler could break: routing, tenant CRUD, isolation.
POOLER_TESTS = [
    "tests/tenants/test_context_and_router.py",
    "tests/tenants/test_middleware.py",
    "tests/tenants/test_routing_cost.py",
    "tests/tenants/test_role_isolation.py",
    "tests/members",
    "tests/branches",
    "tests/templates_app",
]
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def _address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _start(name: str, env: dict, output, extra: list[str] | None = None) -> tuple:
    """One pytest run, started: (name, process, when, held output or None)."""
    if output is None:
        print(f"\n== test run on {name}", flush=True)
    command = [sys.executable, "-m", "pytest", *sys.argv[1:], *(extra or [])]
    process = subprocess.Popen(
        command, env=env, stdout=output, stderr=subprocess.STDOUT if output else None
    )
    return name, process, time.monotonic(), output


def _finish(run: tuple, failed: list[str]) -> None:
    """Wait for a run; print its held output, if any, and how it ended."""
    name, process, started, output = run
    code = process.wait()
    if output is not None:
        print(f"\n== test run on {name} (beside the others)", flush=True)
        output.seek(0)
        sys.stdout.flush()
        sys.stdout.buffer.write(output.read())
        output.close()
    print(f"== {name}: exit {code} in {time.monotonic() - started:.0f}s", flush=True)
    if code != 0:
        failed.append(name)


def main() -> int:
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    wanted = os.environ.get("TEST_BACKENDS", "sqlite,postgresql,pgbouncer").split(",")
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "TENANT_DB_SERVERS", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    postgresql = {
        "DATABASE_URL": f"{PG_URL}/churchtext",
        "TENANT_DB_SERVERS": PG_URL,
        "REDIS_URL": REDIS_URL,
    }
    runs = {
        "sqlite": {},
        "postgresql": postgresql,
        "pgbouncer": {**postgresql, "TEST_TENANT_POOLER": "1"},
    }
    paths = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    failed: list[str] = []
    beside = None
    if "sqlite" in wanted and len(wanted) > 1:
        beside = _start(
            "sqlite", {**base, "TEST_BACKEND": "sqlite"}, tempfile.TemporaryFile()
        )
        wanted = [name for name in wanted if name != "sqlite"]
    for name in wanted:
        if name in ("postgresql", "pgbouncer"):
            missing = [
                service
                for service, (host, port) in {
                    "PostgreSQL": _address(PG_URL, 5432),
                    "Redis": _address(REDIS_URL, 6379),
                }.items()
                if not reachable(host, port)
            ]
            if name == "pgbouncer" and shutil.which("pgbouncer") is None:
                missing.append("pgbouncer (not installed)")
            if missing and not required:
                names = ", ".join(missing)
                print(f"\n== skipping the {name} run: {names} not running")
                continue
        env = {**base, **runs[name], "TEST_BACKEND": name}
        extra = POOLER_TESTS if name == "pgbouncer" and not paths else []
        if name == "postgresql" and not paths and "-n" not in sys.argv:
            # Most of a test's time is spent waiting for the server (databases
            # created and dropped): two at a time, each with its own names.
            extra = ["-n", os.environ.get("TEST_PG_WORKERS", "2")]
        _finish(_start(name, env, None, extra), failed)
    if beside is not None:
        _finish(beside, failed)
    if failed:
        print(f"\nFAILED on: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
