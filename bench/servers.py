"""The processes a benchmark starts: gunicorn, HAProxy, Celery worker and beat,
Redis, and a second PostgreSQL cluster.

Each runs in its own session (its pid is its process group), logs to a file
whose text is kept when it stops, and is stopped by its own pid: by `stop()`,
by `running()` on the way out of a failure, or at exit as a last resort.
"""

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import product
from bench.client import Client
from bench.harness import ROOT, pg
from tests.ports import free_port, wait_for_port

BIN = Path(sys.executable).parent
_children: set[int] = set()  # process groups still running, for the atexit net


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_children):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


class Process:
    """A subprocess; subclasses set `argv` and give `ready()`."""

    label = "process"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{self.label}-")[1])
        self.old_logs: list[str] = []  # of the runs before the current one

    def start(self, wait: float = 60) -> Any:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        _children.add(self.process.pid)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited:\n{self.log_tail()}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.label} not ready in {wait}s:\n{self.log_tail()}")

    def current_log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace") if self.process else ""
        return ""

    def log(self) -> str:
        """Every line logged so far, over restarts."""
        return "\n".join([*self.old_logs, self.current_log()])

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.current_log().splitlines()[-lines:])

    def stop(self, timeout: float = 20, sig: int = signal.SIGTERM) -> None:
        """Signal the process group, wait, kill what is left."""
        if self.process is None:
            return
        self.old_logs.append(self.current_log())
        pid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):  # killed below
            self.process.wait(timeout=timeout)
        # Children that outlived their parent (a worker mid-request) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        _children.discard(pid)
        self.process = None
        self.log_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL at once (no cleanup, no acks)."""
        self.stop(sig=signal.SIGKILL)

    def group_pids(self, children: bool = False) -> list[int]:
        """The processes of its group (or only its children)."""
        if self.process is None:
            return []
        argv = ["pgrep", "-P" if children else "-g", str(self.process.pid)]
        listed = subprocess.run(argv, capture_output=True).stdout
        return [int(pid) for pid in listed.split()]


class Gunicorn(Process):
    """`gunicorn APP -w N` on a free port; ready once /healthz answers 200."""

    label = "gunicorn"

    def __init__(self, env: dict[str, str], app: str = "config.wsgi", workers: int = 2):
        super().__init__(env)
        self.port = free_port()
        self.argv = (
            f"{BIN}/gunicorn {app} -w {workers} -b 127.0.0.1:{self.port} "
            "--timeout 120 --log-level warning --backlog 256"
        ).split()

    def ready(self) -> bool:
        with contextlib.suppress(OSError):
            if Client(self.port).get("/healthz", timeout=5).status == 200:
                time.sleep(0.5)  # one worker answered; give the others a moment
                return True
        return False

    def worker_pids(self) -> list[int]:
        return self.group_pids(children=True)


def served(env: dict[str, str], app: str, workers: int, affinity: bool) -> list:
    """The processes serving `app`, the last one the front: one gunicorn of
    `workers` workers, or (`affinity`) as many single-worker ones behind HAProxy."""
    if not affinity:
        return [Gunicorn(env, app, workers)]
    webs = [Gunicorn(env, app, workers=1) for _ in range(workers)]
    return [*webs, Proxy([web.port for web in webs])]


class CeleryWorker(Process):
    """`celery -A config worker` (prefork); ready once it consumes."""

    label = "celery"

    def __init__(self, env: dict[str, str], concurrency: int = 2) -> None:
        super().__init__(env)
        self.argv = (
            f"{BIN}/celery -A config worker -l info --pool prefork --concurrency "
            f"{concurrency} --without-heartbeat --without-mingle --without-gossip"
        ).split()

    def ready(self) -> bool:
        return "ready." in self.log_tail(200)


class CeleryBeat(Process):
    """`celery -A config beat`, its schedule file next to its log."""

    label = "celery-beat"

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        files = f"-s {self.log_path}.db --pidfile {self.log_path}.pid"
        self.argv = f"{BIN}/celery -A config beat -l info {files}".split()

    def ready(self) -> bool:
        return "beat: Starting" in self.log_tail(50)


class RedisServer(Process):
    """redis-server on a spare port, no persistence: a restart starts empty."""

    label = "redis"

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        data = tempfile.mkdtemp(prefix="bench-redis-")
        self.argv = [
            *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", data),
        ]

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ready(self) -> bool:
        with contextlib.suppress(TimeoutError):
            wait_for_port(self.port, timeout=0.2)
            return True
        return False


class Proxy(Process):
    """HAProxy with the shipped deploy/haproxy.cfg in front of `servers`
    (ports): each church's requests to one of them."""

    label = "haproxy"

    def __init__(self, servers: list[int]) -> None:
        super().__init__(os.environ | {"CHURCHTEXT_HOST": "127.0.0.1"})
        self.port, config = free_port(), Path(f"{self.log_path}.cfg")
        config.write_text(product.config_for(self.port, servers))
        self.argv = ["haproxy", "-db", "-f", str(config)]

    ready = RedisServer.ready

    def stop(self, timeout: float = 20, sig: int = signal.SIGTERM) -> None:
        super().stop(timeout, sig)
        Path(f"{self.log_path}.cfg").unlink(missing_ok=True)


class PostgresCluster:
    """A second PostgreSQL server (pg_createcluster, trust auth, a spare port);
    its name carries our pid, so that a later run can drop it if we die."""

    PREFIX = "benchload"

    def __init__(self, max_connections: int = 100) -> None:
        self.max_connections = max_connections
        self.version = sorted(os.listdir("/etc/postgresql"))[-1]
        self.name = f"{self.PREFIX}{os.getpid()}"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"
        self.created = False

    def _ctl(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()[-1000:]}")

    def create(self) -> None:
        self._ctl("pg_createcluster", self.version, self.name, "-p", str(self.port),
                  "-o", f"max_connections={self.max_connections}",
                  "-o", "wal_level=logical", "--", "--auth=trust")  # fmt: skip
        self.created = True
        self.start()

    def _pgctl(self, *action: str) -> None:
        self._ctl("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name,
                  *action)  # fmt: skip

    def start(self) -> None:
        self._pgctl("start")
        deadline = time.monotonic() + 60
        while True:  # the port opens before the server accepts sessions
            try:
                with pg(port=self.port, timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self._pgctl("stop", "-m", "fast")

    def drop(self) -> None:
        if self.created:  # no check: this runs on the way out of failures too
            argv = ["pg_dropcluster", "--stop", self.version, self.name]
            subprocess.run(argv, timeout=300)
            self.created = False

    @classmethod
    def drop_stale(cls) -> list[str]:
        """Clusters of earlier runs whose process is gone."""
        listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True)
        dropped = []
        for version, name, *_ in (line.split() for line in listed.stdout.splitlines()):
            pid = name.removeprefix(cls.PREFIX)
            if name.startswith(cls.PREFIX) and not Path(f"/proc/{pid}").exists():
                subprocess.run(["pg_dropcluster", "--stop", version, name], timeout=300)
                dropped.append(name)
        return dropped


@contextlib.contextmanager
def running(*processes: Process) -> Iterator[None]:
    """Start processes in order; stop them all on the way out, whatever happened."""
    try:
        for process in processes:
            process.start()
        yield
    except BaseException:
        for process in processes:
            if tail := process.log_tail():
                print(f"--- last lines of the {process.label} log ---\n{tail}")
        raise
    finally:
        for process in reversed(processes):
            process.stop()


def on_own_cluster(max_connections: int) -> None:
    """Run this command again against a PostgreSQL cluster of its own whose
    max_connections is larger than the shared server's; drop it afterwards."""
    cluster = PostgresCluster(max_connections)
    argv = sys.argv[1:]  # the same, recorded as typed: BENCH_PG_PORT says it is there
    try:
        cluster.create()
        env = os.environ | {"BENCH_PG_PORT": str(cluster.port)}
        module = sys.modules["__main__"].__spec__.name
        subprocess.run([sys.executable, "-m", module, *argv], env=env, check=True)
    finally:
        cluster.drop()
