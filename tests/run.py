"""Run the whole suite twice: on the embedded default (SQLite, local cache) and on
PostgreSQL with Redis. With REQUIRE_SERVICES=1 a missing service fails the run.

Extra arguments go to pytest; TEST_BACKENDS=sqlite (or postgresql) runs one.
"""

import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

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


def main() -> int:
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    wanted = os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",")
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "TENANT_DB_SERVERS", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    runs = {
        "sqlite": {},
        "postgresql": {
            "DATABASE_URL": f"{PG_URL}/churchtext",
            "TENANT_DB_SERVERS": PG_URL,
            "REDIS_URL": REDIS_URL,
        },
    }
    failed = []
    for name in wanted:
        if name == "postgresql":
            missing = [
                service
                for service, (host, port) in {
                    "PostgreSQL": _address(PG_URL, 5432),
                    "Redis": _address(REDIS_URL, 6379),
                }.items()
                if not reachable(host, port)
            ]
            if missing and not required:
                names = ", ".join(missing)
                print(f"\n== skipping the PostgreSQL run: {names} not running")
                continue
        print(f"\n== test run on {name}", flush=True)
        started = time.monotonic()
        env = {**base, **runs[name], "TEST_BACKEND": name}
        code = subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]], env=env)
        print(
            f"== {name}: exit {code} in {time.monotonic() - started:.0f}s", flush=True
        )
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nFAILED on: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
