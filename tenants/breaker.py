"""One circuit breaker, for everything that can go away: Redis, a database server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Open after `threshold` consecutive failures; probe again after `cooldown`.

    While open, `allow()` answers False at once. After the cooldown one caller
    is let through as a half-open probe (the others wait another cooldown); its
    success closes the breaker, its failure opens it again.
    """

    def __init__(self, threshold: int, cooldown: float) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._failures = 0
        self._open_until = 0.0
        self._lock = threading.Lock()
        # Called when the guarded thing serves again after failing, and when
        # the breaker opens.
        self.on_recovery: list[Callable[[], object]] = []
        self.on_open: list[Callable[[], object]] = []

    @property
    def state(self) -> str:
        if self._open_until == 0.0:
            return "closed"
        return "open" if time.monotonic() < self._open_until else "half-open"

    @property
    def clean(self) -> bool:
        """No failure recorded since the last success (closed, and not even one)."""
        return self._failures == 0 and self._open_until == 0.0

    def allow(self) -> bool:
        if self._open_until == 0.0:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._open_until:
                return False
            self._open_until = now + self.cooldown
            return True

    def record_success(self) -> None:
        if self._failures or self._open_until:
            with self._lock:
                recovered = bool(self._failures or self._open_until)
                self._failures = 0
                self._open_until = 0.0
            if recovered:
                for callback in list(self.on_recovery):
                    callback()

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            opened = self._open_until == 0.0 and self._failures >= self.threshold
            if self._failures >= self.threshold or self._open_until:
                self._open_until = time.monotonic() + self.cooldown
        if opened:
            for callback in list(self.on_open):
                callback()

    def reset(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = 0.0
