"""Each process's own copy of the live revocations, kept current by Redis pub/sub.

A warm request then checks its token against a dict in memory: no Redis round
trip. The copy is trusted only while its listener proves it current:

- the listener subscribes first and loads every live revocation from the
  registry second, so nothing published in between is missed;
- it pings Redis through its subscription every HEARTBEAT seconds; a copy not
  heard from for STALE_AFTER seconds is not trusted, and the check falls back
  to the Redis copy and the registry (`revocation.is_revoked`), and reloads
  from the registry before it answers again. A revocation thus reaches every
  process within a second, or the process stops trusting its copy;
- a process whose publish failed (or was not even tried, Redis being down)
  asks every copy to reload, from its listener thread, until that request
  goes through; and each copy reloads every RELOAD_SECONDS regardless, as
  the Redis copy's epoch expires.

The writer notes its own revocations at once, before anyone hears them.

The copy answers for access tokens only, so it holds what an access token can
match: revoked sessions (`sid:`) and token ids (`jti:`) that expire within an
access token's lifetime. Spent refresh and MFA tokens (one per refresh, kept
for days) stay in the registry, where their one-time use is decided anyway.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections
from django.db.models import Q
from django.utils import timezone

from accounts.models import Revocation
from tenants.cache import REDIS_FAILURES, REGISTRY_PREFIX, breaker, redis_cache

if TYPE_CHECKING:
    from tenants.cache import BreakerRedisCache

logger = logging.getLogger(__name__)

HEARTBEAT = 0.25
STALE_AFTER = 1.0
RELOAD_SECONDS = 60.0
_RELOAD = "reload"


class _Copy:
    """One listener's copy; a new Redis (settings changed) gets a new one."""

    def __init__(self, source: tuple[Any, ...], channel: str) -> None:
        self.source = source
        self.channel = channel
        self.revoked: dict[str, float] = {}  # key -> expires at (epoch seconds)
        self.heard = 0.0  # monotonic time the listener last proved itself; 0: never
        self.lock = threading.Lock()  # notes from requests vs. a reload's swap
        self.unsent = False  # a publish failed: every copy must reload
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._listen, name="revocation-feed", daemon=True
        )

    def fresh(self) -> bool:
        return self.heard > 0 and time.monotonic() - self.heard < STALE_AFTER

    def note(self, keys: Iterable[str], expires_at: float) -> None:
        kept = [key for key in keys if _held(key, expires_at)]
        with self.lock:
            for key in kept:
                self.revoked[key] = max(expires_at, self.revoked.get(key, 0.0))

    def _listen(self) -> None:
        while not self.stop.is_set():
            backend = redis_cache()
            if backend is None or _source(backend) != self.source:
                return  # the settings moved on; `check` starts another copy
            pubsub = None
            try:
                pubsub = backend.client.get_client(write=True).pubsub()
                pubsub.subscribe(self.channel)
                _confirmed(pubsub)  # listening before the snapshot is read
                self._reload()
                self._serve(pubsub, backend)
            except REDIS_FAILURES:
                logger.info("revocation feed lost Redis; retrying", exc_info=True)
            except Exception:
                logger.warning("revocation feed failed; retrying", exc_info=True)
            finally:
                self.heard = 0.0
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except REDIS_FAILURES:
                        pass
            self.stop.wait(HEARTBEAT * 4)

    def _serve(self, pubsub: Any, backend: BreakerRedisCache) -> None:
        pinged = loaded = time.monotonic()
        pubsub.ping()
        while not self.stop.is_set():
            now = time.monotonic()
            if now - pinged >= HEARTBEAT:
                pubsub.ping()
                pinged = now
                if self.unsent:
                    # (Not on `pubsub`: a subscribed connection cannot publish.)
                    client = backend.client.get_client(write=True)
                    client.publish(self.channel, json.dumps(_RELOAD))
                    self.unsent = False
            if now - loaded >= RELOAD_SECONDS:
                self._reload()
                loaded = time.monotonic()
            message = pubsub.get_message(timeout=HEARTBEAT)
            if message is None:
                continue
            kind = message["type"]
            if kind == "pong":
                if self.heard and not self.fresh():
                    # Silent long enough to be distrusted: whatever happened
                    # meanwhile (a publish lost with a dropped connection) is
                    # read from the registry before the copy answers again.
                    self.heard = 0.0
                    self._reload()
                    loaded = time.monotonic()
                self.heard = time.monotonic()
            elif kind == "message":
                data = json.loads(message["data"])
                if data == _RELOAD:
                    self.heard = 0.0  # untrusted until the reload is done
                    self._reload()
                    loaded = self.heard = time.monotonic()
                else:
                    self.note(data["keys"], float(data["expires_at"]))

    def _reload(self) -> None:
        try:
            now = timezone.now()
            rows = Revocation.objects.filter(expires_at__gt=now).filter(
                Q(key__startswith="sid:") | Q(expires_at__lte=now + _access_horizon())
            )
            fresh = {
                key: at.timestamp() for key, at in rows.values_list("key", "expires_at")
            }
        finally:
            connections["default"].close()  # this thread's, back to the pool
        # Keys noted while loading stay: they may be newer than the rows read.
        cutoff = time.time()
        with self.lock:
            kept = {k: at for k, at in self.revoked.items() if at > cutoff}
            self.revoked = kept | fresh


_lock = threading.Lock()
_copy: _Copy | None = None


def _access_horizon() -> dt.timedelta:
    """Nothing an access token can match expires later (but its session)."""
    lifetime: dt.timedelta = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    return lifetime + dt.timedelta(minutes=1)


def _held(key: str, expires_at: float) -> bool:
    horizon = time.time() + _access_horizon().total_seconds()
    return key.startswith("sid:") or expires_at <= horizon


def _source(backend: BreakerRedisCache) -> tuple[Any, ...]:
    return (tuple(backend._server), backend.key_prefix)


def _current() -> _Copy | None:
    """This process's copy for the configured Redis, started on first use."""
    global _copy
    backend = redis_cache()
    if backend is None:
        return None
    copy = _copy
    if copy is not None and copy.source == _source(backend):
        return copy
    with _lock:
        if _copy is None or _copy.source != _source(backend):
            if _copy is not None:
                _copy.stop.set()
            _copy = _Copy(
                _source(backend), backend.make_key(f"{REGISTRY_PREFIX}revocations:feed")
            )
            _copy.thread.start()
        return _copy


def check(keys: Iterable[str]) -> bool | None:
    """Whether any of an access token's keys is revoked, from this process's
    copy; None if the copy is not trusted now."""
    copy = _current()
    if copy is None or not copy.fresh():
        return None
    now = time.time()
    return any(copy.revoked.get(key, 0.0) > now for key in keys)


def publish(keys: list[str], expires_at: float) -> None:
    """Note revocations here and tell every other process."""
    copy = _current()
    if copy is not None:
        copy.note(keys, expires_at)
        _send(copy.channel, {"keys": keys, "expires_at": expires_at})


def ask_reload() -> None:
    """Every copy reloads from the registry (a publish may have been lost)."""
    copy = _current()
    if copy is not None:
        _send(copy.channel, _RELOAD)


def _send(channel: str, data: object) -> None:
    backend, copy = redis_cache(), _copy
    if backend is None:
        return
    if breaker.allow():
        try:
            backend.client.get_client(write=True).publish(channel, json.dumps(data))
        except REDIS_FAILURES:
            breaker.record_failure()
        else:
            breaker.record_success()
            return
    if copy is not None:
        copy.unsent = True  # the listener asks for a reload until it goes through


def _confirmed(pubsub: Any, timeout: float = 5.0) -> None:
    """Wait for Redis to confirm the subscription (it is asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=HEARTBEAT)
        if message is not None and message["type"] == "subscribe":
            return
    raise TimeoutError("Redis did not confirm the subscription")


def stop() -> None:
    """End this process's listener (its registry is going away: a test run's end)."""
    global _copy
    with _lock:
        copy, _copy = _copy, None
    if copy is not None:
        copy.stop.set()
        copy.thread.join(timeout=30)  # a bound, for a Redis that stopped answering


def _after_fork_in_child() -> None:
    global _copy, _lock
    _copy, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
