"""What bench/load.py starts and watches besides gunicorn and Celery workers.

- `RedisServer`: a redis-server of the run's own on a spare port (it may stop it).
- `PostgresCluster`: a second PostgreSQL server (pg_createcluster, trust auth).
- `CeleryBeat` and `kept_log`: a beat process, and logs kept after a stop.
- `Sampler`: every second, tenant connections per server (pg_stat_activity),
  every few seconds the tenant connections of each process (joined with `ss`)
  and the RSS of each gunicorn worker (/proc/<pid>/status).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _http

APP_NAME = "bench_load_harness"  # our own admin connections, not "other users"


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def pg_connect(port: int, dbname: str = "postgres", timeout: int = 3) -> Any:
    import psycopg

    return psycopg.connect(
        host="127.0.0.1",
        port=port,
        user="postgres",
        dbname=dbname,
        autocommit=True,
        connect_timeout=timeout,
        application_name=APP_NAME,
    )


# --- Redis ------------------------------------------------------------------------


class RedisServer:
    """redis-server on a spare port, no persistence: a restart starts empty."""

    def __init__(self) -> None:
        self.port = _http.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-load-redis-"))
        self.process: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        _http._children[self.process.pid] = "redis-server"
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is None:
            return
        pid = self.process.pid
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        _http._children.pop(pid, None)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, db: int) -> Any:
        import redis as redis_lib

        return redis_lib.Redis(
            host="127.0.0.1", port=self.port, db=db, socket_timeout=2
        )

    def key_count(self, db: int) -> int | None:
        try:
            client = self.client(db)
            try:
                return int(client.dbsize())
            finally:
                client.close()
        except Exception:
            return None


# --- a second PostgreSQL server ---------------------------------------------------

CLUSTER_PREFIX = "benchload"


class PostgresCluster:
    """pg_createcluster on a spare port with trust authentication."""

    def __init__(self) -> None:
        self.version = sorted(os.listdir("/etc/postgresql"))[-1]
        self.name = f"{CLUSTER_PREFIX}{os.getpid()}"
        self.port = _http.free_port()
        self.created = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _ctl(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, timeout=180)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()[-1000:]}")

    def create(self) -> None:
        self._ctl(
            "pg_createcluster",
            self.version,
            self.name,
            "-p",
            str(self.port),
            "--",
            "--auth=trust",
        )
        self.created = True
        self.start()

    def start(self) -> None:
        self._ctl(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            self.version,
            self.name,
            "start",
        )
        wait_for_port(self.port, timeout=60)
        deadline = time.monotonic() + 60
        while True:  # the port opens before the server accepts sessions
            try:
                with pg_connect(self.port) as conn:
                    conn.execute("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self._ctl(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            self.version,
            self.name,
            "stop",
            "-m",
            "fast",
        )

    def drop(self) -> None:
        if not self.created:
            return
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name],
            capture_output=True,
            timeout=300,
        )
        self.created = False


def drop_stale_clusters() -> list[str]:
    """Clusters an earlier run (its process gone) left behind."""
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    dropped = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].startswith(CLUSTER_PREFIX):
            continue
        pid = parts[1][len(CLUSTER_PREFIX) :]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue  # a live run's
        subprocess.run(
            ["pg_dropcluster", "--stop", parts[0], parts[1]],
            capture_output=True,
            timeout=300,
        )
        dropped.append(parts[1])
    return dropped


# --- processes --------------------------------------------------------------------


class KeptLog:
    """Mixin: read the log before `stop()` deletes it."""

    saved_logs: list[str]

    def keep_log(self) -> None:
        if not hasattr(self, "saved_logs"):
            self.saved_logs = []
        with contextlib.suppress(OSError):
            self.saved_logs.append(self.log_path.read_text(errors="replace"))  # type: ignore[attr-defined]

    def stop(self, timeout: float = 20) -> None:
        if getattr(self, "process", None) is not None:
            self.keep_log()
        super().stop(timeout)  # type: ignore[misc]

    def kill_now(self) -> float:
        """SIGKILL the whole process group (no cleanup, no acks); returns when."""
        process = self.process  # type: ignore[attr-defined]
        killed_at = time.monotonic()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        self.keep_log()
        _http._children.pop(process.pid, None)
        self.process = None
        with contextlib.suppress(OSError):
            self.log_path.unlink()  # type: ignore[attr-defined]
        return killed_at

    def full_log(self) -> str:
        current = ""
        if getattr(self, "process", None) is not None:
            with contextlib.suppress(OSError):
                current = self.log_path.read_text(errors="replace")  # type: ignore[attr-defined]
        return "\n".join([*getattr(self, "saved_logs", []), current])


class LoadGunicorn(KeptLog, _http.Gunicorn):
    pass


class LoadCeleryWorker(KeptLog, _http.CeleryWorker):
    pass


class CeleryBeat(KeptLog, _http._Process):
    """`celery -A config beat` with its schedule file in a temporary directory."""

    label = "celery-beat"

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.dir = Path(tempfile.mkdtemp(prefix="bench-load-beat-"))

    def start(self, wait: float = 60) -> CeleryBeat:
        self._spawn(
            [
                str(_http.BIN / "celery"),
                "-A",
                "config",
                "beat",
                "-s",
                str(self.dir / "schedule"),
                "--pidfile",
                str(self.dir / "beat.pid"),
                "-l",
                "info",
            ]
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"celery beat exited:\n{self.log_tail()}")
            if "beat: Starting" in self.log_tail(50):
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"celery beat did not start in {wait}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> None:
        super().stop(timeout)
        shutil.rmtree(self.dir, ignore_errors=True)


def notable_log_lines(text: str, limit: int = 8) -> tuple[int, list[str]]:
    """(count, most frequent kinds with counts) of ERROR/Traceback lines in a log."""
    pattern = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback|WORKER TIMEOUT|exited")
    lines = text.splitlines()
    hits = []
    for i, line in enumerate(lines):
        if not pattern.search(line):
            continue
        if line.startswith("Traceback"):
            # name the traceback by its exception line (the first unindented one)
            for follow in lines[i + 1 : i + 200]:
                if (
                    follow
                    and not follow[0].isspace()
                    and not follow.startswith(
                        ("Traceback", "During handling", "The above exception")
                    )
                ):
                    line = "Traceback: " + follow
                    break
        hits.append(line)
    kinds: dict[str, list] = {}
    for line in hits:
        body = re.sub(r"^\[?\d{4}-\d\d-\d\d[ T][\d:,.]+:?\]?\s*", "", line)
        key = re.sub(r"[0-9a-f]{8,}(-[0-9a-f]{4,})*|\d+", "#", body)[:160]
        entry = kinds.setdefault(key, [0, body[:240]])
        entry[0] += 1
    ranked = sorted(kinds.values(), key=lambda e: -e[0])
    return len(hits), [f"{n}x {example}" for n, example in ranked[:limit]]


# --- sampling -----------------------------------------------------------------------


def _name_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "other (gone)"
    return "other: " + raw.replace(b"\0", b" ").decode(errors="replace")[:60].strip()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


_SS_PID = re.compile(r"pid=(\d+)")


def local_ports_by_pid(server_ports: list[int]) -> dict[int, int]:
    """client port -> pid for TCP connections to the given server ports (ss -tnp)."""
    flt = " or ".join(f"dport = :{p}" for p in server_ports)
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( {flt} )"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    mapping: dict[int, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        local = parts[2]
        found = _SS_PID.search(line)
        if found and ":" in local:
            mapping[int(local.rsplit(":", 1)[1])] = int(found.group(1))
    return mapping


class Sampler(threading.Thread):
    """Connections per server, connections per process, RSS of gunicorn workers."""

    def __init__(
        self,
        *,
        servers: dict[str, int],
        like: str,
        registry: str,
        t0: float,
        worker_pids: Callable[[], list[int]],
        process_names: Callable[[], dict[int, str]],
        interval: float = 1.0,
        process_every: int = 3,
        rss_every: int = 5,
    ) -> None:
        super().__init__(name="load-sampler", daemon=True)
        self.servers = servers  # label -> port
        self.like = like
        self.registry = registry
        self.t0 = t0
        self.worker_pids = worker_pids
        self.process_names = process_names
        self.interval = interval
        self.process_every = process_every
        self.rss_every = rss_every
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.connections: list[dict[str, Any]] = []  # {t, main, second, registry}
        self.per_process: list[dict[str, Any]] = []  # {t, pid, name, tenant, total}
        self.rss: list[dict[str, Any]] = []  # {t, pid, kib}
        self._conns: dict[str, Any] = {}

    def _query(self, label: str, sql: str, params: list) -> list[tuple] | None:
        conn = self._conns.get(label)
        try:
            if conn is None or conn.closed:
                conn = self._conns[label] = pg_connect(self.servers[label], timeout=1)
            return conn.execute(sql, params).fetchall()
        except Exception:
            with contextlib.suppress(Exception):
                if conn is not None:
                    conn.close()
            self._conns.pop(label, None)
            return None

    def run(self) -> None:
        tick = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                self._sample(tick)
            except Exception as exc:  # a sampler must not end the run
                print(f"  sampler: {exc!r}", flush=True)
            tick += 1
            self.stop_event.wait(max(0.0, self.interval - (time.monotonic() - started)))
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                conn.close()

    def _sample(self, tick: int) -> None:
        t = round(time.monotonic() - self.t0, 2)
        row: dict[str, Any] = {"t": t}
        before_ports = (
            local_ports_by_pid(list(self.servers.values()))
            if tick % self.process_every == 0
            else {}
        )
        rows_by_server: dict[str, list[tuple]] = {}
        for label in self.servers:
            rows = self._query(
                label,
                "SELECT datname, client_port FROM pg_stat_activity WHERE "
                "backend_type = 'client backend' AND (datname LIKE %s OR "
                "datname = %s)",
                [self.like, self.registry],
            )
            if rows is None:
                row[label] = None
                continue
            rows_by_server[label] = rows
            row[label] = sum(1 for name, _ in rows if name != self.registry)
            if label == "main":
                row["registry"] = sum(1 for name, _ in rows if name == self.registry)
        with self.lock:
            self.connections.append(row)
        if tick % self.process_every == 0 and rows_by_server:
            # ss before and after the query: a port counts only if it maps to
            # the same process in both (no session opened or closed meanwhile)
            after = local_ports_by_pid(list(self.servers.values()))
            ports = {
                port: pid
                for port, pid in after.items()
                if before_ports.get(port) == pid
            }
            names = self.process_names()
            counts: dict[int, list[int]] = {}
            for rows in rows_by_server.values():
                for name, port in rows:
                    pid = ports.get(port) if port is not None else None
                    if pid is None:
                        continue
                    entry = counts.setdefault(pid, [0, 0])
                    entry[1] += 1
                    if name != self.registry:
                        entry[0] += 1
            with self.lock:
                for pid, (tenant, total) in counts.items():
                    self.per_process.append(
                        {
                            "t": t,
                            "pid": pid,
                            "name": names.get(pid) or _name_of(pid),
                            "tenant": tenant,
                            "total": total,
                        }
                    )
        if tick % self.rss_every == 0:
            samples = []
            for pid in self.worker_pids():
                kib = rss_kib(pid)
                if kib is not None:
                    samples.append({"t": t, "pid": pid, "kib": kib})
            with self.lock:
                self.rss.extend(samples)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)


def others_on_main(like: str, registry: str) -> int:
    """Client sessions on the main server that are not this run's."""
    with pg_connect(5432) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
            "'client backend' AND pid <> pg_backend_pid() AND "
            "coalesce(application_name, '') <> %s AND NOT "
            "(coalesce(datname, '') LIKE %s OR coalesce(datname, '') = %s)",
            [APP_NAME, like, registry],
        ).fetchone()[0]


def max_connections(port: int) -> int:
    with pg_connect(port) as conn:
        return int(conn.execute("SHOW max_connections").fetchone()[0])
