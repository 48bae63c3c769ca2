"""Watching pg_stat_activity: how many sessions this run holds, all along."""

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Self

from bench.harness import PORT, Setup, pg

QUERY = (
    "SELECT datname, client_port FROM pg_stat_activity WHERE backend_type = "
    "'client backend' AND (datname LIKE %s OR datname = %s)"
)


class ConnectionSampler(threading.Thread):
    """Every `interval`, counts the client sessions on this run's tenant databases
    (over all `servers`: label -> port) and on its registry. `peak` and `latest`
    count tenant sessions in the current window (see `reset_peak`); with `keep`,
    every sample is kept in `series` as {t, <server label>: n or None when
    unreachable, registry: n}. `hook(tick, t)` runs after each sample."""

    def __init__(
        self, setup: Setup, *, servers: dict[str, int] | None = None,
        interval: float = 0.01, keep: bool = False, t0: float | None = None,
        hook: Callable[[int, float], None] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(name="pg-stat-sampler", daemon=True)
        self.setup, self.interval, self.keep, self.hook = setup, interval, keep, hook
        self.servers = servers or {"main": PORT}
        self.t0 = time.monotonic() if t0 is None else t0
        self.lock = threading.Lock()
        self.stop_event, self.ready = threading.Event(), threading.Event()
        self.peak = self.latest = self.samples = 0
        self.series: list[dict[str, Any]] = []
        self._conns: dict[str, Any] = {}

    def rows(self, label: str) -> list[tuple[str, int]] | None:
        """(database, client port) of this run's sessions on one server; None if
        the server does not answer (the session is opened anew next time)."""
        try:
            if label not in self._conns:
                self._conns[label] = pg(port=self.servers[label], timeout=1)
            params = [self.setup.like, self.setup.registry]
            return self._conns[label].execute(QUERY, params).fetchall()
        except Exception:
            with contextlib.suppress(Exception):
                self._conns.pop(label).close()
            return None

    def run(self) -> None:
        tick = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            sample: dict[str, Any] = {"t": round(started - self.t0, 2), "registry": 0}
            for label in self.servers:
                rows = self.rows(label)
                names = [name for name, _ in rows or []]
                registry = names.count(self.setup.registry)
                sample[label] = None if rows is None else len(names) - registry
                sample["registry"] += registry
            tenant = sum(sample[label] or 0 for label in self.servers)
            with self.lock:
                self.latest, self.peak = tenant, max(self.peak, tenant)
                self.samples += 1
                if self.keep:
                    self.series.append(sample)
            self.ready.set()
            if self.hook is not None:
                try:
                    self.hook(tick, sample["t"])
                except Exception as exc:  # a sampler must not end the run
                    print(f"  sampler hook: {exc!r}", flush=True)
            tick += 1
            self.stop_event.wait(max(0.0, self.interval - (time.monotonic() - started)))
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                conn.close()

    def begin(self) -> Self:
        self.start()
        self.ready.wait(10)
        return self

    def reset_peak(self) -> None:
        """Start a new window; its peak counts from the next sample on."""
        with self.lock:
            self.peak = self.samples = 0
        self.wait_for_samples(1)

    def wait_for_samples(self, n: int) -> None:
        while self.samples < n:
            time.sleep(self.interval / 2)

    def next_sample(self) -> tuple[int, int]:
        """(peak, latest) once a sample taken after this call is in."""
        self.wait_for_samples(self.samples + 2)
        with self.lock:
            return self.peak, self.latest

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)
