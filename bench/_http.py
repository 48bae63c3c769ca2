"""What the HTTP benchmarks share: servers they start, a small client, Redis cleanup.

`Gunicorn` and `CeleryWorker` run in their own process group with the bench's
environment (the one `_harness.configure` set up, plus extras) and are always
stopped by their own pid, also when the benchmark fails. `Client` speaks plain
HTTP/1.1 with `http.client` (one connection per request: gunicorn's sync
workers close every connection anyway), so that the client side costs little
and the same for every server measured.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379

_children: dict[int, str] = {}  # pid -> what it is, for the atexit safety net


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@atexit.register
def _kill_leftover_children() -> None:
    for pid in list(_children):
        _kill_group(pid, signal.SIGKILL)


class _Process:
    """A subprocess in its own session (its pid is its process group id)."""

    label = "process"

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{self.label}-")[1])

    def _spawn(self, argv: list[str]) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child keeps it
        try:
            self.process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        _children[self.process.pid] = self.label

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        pid = self.process.pid
        _kill_group(pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Children that outlived their parent (a worker mid-request).
        _kill_group(pid, signal.SIGKILL)
        _children.pop(pid, None)
        self.process = None
        with contextlib.suppress(OSError):
            self.log_path.unlink()


class Gunicorn(_Process):
    """`gunicorn <app> -w N -b 127.0.0.1:<free port>`, ready once /healthz answers."""

    label = "gunicorn"

    def __init__(
        self,
        env: dict[str, str],
        *,
        app: str = "config.wsgi",
        workers: int = 2,
        pythonpath: str | None = None,
        health_path: str = "/healthz",
        timeout: int = 120,
    ) -> None:
        super().__init__(env)
        self.app = app
        self.workers = workers
        self.pythonpath = pythonpath
        self.health_path = health_path
        self.timeout = timeout
        self.port = free_port()

    @property
    def argv(self) -> list[str]:
        argv = [
            str(BIN / "gunicorn"),
            self.app,
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            str(self.timeout),
            "--log-level",
            "warning",
            "--backlog",
            "256",
        ]
        if self.pythonpath:
            argv += ["--pythonpath", self.pythonpath]
        return argv

    def start(self, wait: float = 60) -> Gunicorn:
        self._spawn(self.argv)
        client = Client(self.port)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                if client.get(self.health_path).status == 200:
                    # One answer proves one worker; give the others a moment.
                    time.sleep(0.5)
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"gunicorn did not answer in {wait}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]


class CeleryWorker(_Process):
    """`celery -A config worker` (prefork); `ready()` once it consumes."""

    label = "celery"

    def __init__(self, env: dict[str, str], *, concurrency: int = 2) -> None:
        super().__init__(env)
        self.concurrency = concurrency

    def start(self, wait: float = 60) -> CeleryWorker:
        self._spawn(
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--concurrency",
                str(self.concurrency),
                "--pool",
                "prefork",
                "-l",
                "info",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ]
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"celery exited:\n{self.log_tail()}")
            if "ready." in self.log_tail(200):
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"celery did not start in {wait}s:\n{self.log_tail()}")


@contextlib.contextmanager
def running(process: _Process) -> Iterator[Any]:
    """Start a server or worker; stop it on the way out, whatever happened."""
    try:
        yield process.start()
    except BaseException:
        tail = process.log_tail()
        if tail:
            print(f"--- last lines of the {process.label} log ---\n{tail}")
        raise
    finally:
        process.stop()


# --- HTTP -----------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Blocking HTTP/1.1 on 127.0.0.1; thread-safe (no shared state)."""

    def __init__(self, port: int, *, token: str | None = None) -> None:
        self.port = port
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        token: str | None = None,
        timeout: float = 120,
    ) -> Answer:
        headers = {"Host": "127.0.0.1", "Accept": "application/json"}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            content_type = "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        if body is not None:
            headers["Content-Length"] = str(len(body))
        token = token or self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            seconds = time.perf_counter() - started
            return Answer(response.status, data, seconds, dict(response.getheaders()))
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.request("POST", path, **kwargs)

    def upload(
        self, path: str, field_name: str, filename: str, data: bytes, **kwargs: Any
    ) -> Answer:
        """A multipart/form-data POST with one file."""
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="{field_name}"; '
                f'filename="{filename}"\r\n'.encode(),
                b"Content-Type: text/csv\r\n\r\n",
                data,
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
        return self.request(
            "POST",
            path,
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            **kwargs,
        )


def expect(answer: Answer, status: int, what: str) -> Answer:
    if answer.status != status:
        raise RuntimeError(
            f"{what}: expected {status}, got {answer.status}: {answer.body[:500]!r}"
        )
    return answer


def run_clients(
    clients: int, work: Callable[[int], None], *, name: str = "client"
) -> float:
    """Run `work(i)` in `clients` threads started together; returns wall seconds."""
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [
        threading.Thread(target=body, args=(i,), name=f"{name}-{i}", daemon=True)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds


# --- environment and Redis --------------------------------------------------------


def service_env(**extra: str) -> dict[str, str]:
    """The bench's own environment (after `_harness.configure`) for a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the wsgi/celery modules set theirs
    return env


def redis(db: int) -> Any:
    import redis as redis_lib

    return redis_lib.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)


def delete_keys(db: int, pattern: str) -> int:
    """Delete the keys matching `pattern` in one Redis database."""
    client = redis(db)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


def key_names(db: int) -> set[bytes]:
    client = redis(db)
    try:
        return set(client.scan_iter(count=1000))
    finally:
        client.close()


def bench_env(name: str, **extra: str) -> dict[str, str]:
    """Settings every HTTP benchmark uses (own cache prefix, no rate limits)."""
    return {
        "RATE_LIMITS": "off",
        "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/14",
        "CACHE_KEY_PREFIX": f"bench_{name}",
        "ALLOWED_HOSTS": "*",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "ACCESS_TOKEN_SECONDS": "86400",  # no token expires during a run
        **extra,
    }


def cache_pattern(env: dict[str, str]) -> str:
    return f"{env['CACHE_KEY_PREFIX']}:*"


def code_version() -> str:
    """The commit the numbers were measured on, and whether the tree was dirty."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    # docs/benchmarks.md is what the benchmarks themselves write.
    changed = len(
        [
            line
            for line in (dirty.splitlines() if dirty != "?" else [])
            if not line.endswith("docs/benchmarks.md")
        ]
    )
    return f"commit {commit}" + (
        f" plus uncommitted changes in {changed} tracked files (others' work in "
        "progress)"
        if changed
        else ""
    )
