"""Cache keys scoped by tenant, and a Redis cache behind a circuit breaker.

With Redis stopped, every cache call falls back at once (a miss, a no-op write)
instead of failing the request; after a cooldown one call is let through
(half-open) and the first success closes the breaker again.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from telemetry import metrics
from tenants.breaker import CircuitBreaker
from tenants.context import current_tenant

REGISTRY_PREFIX = "registry:"


def tenant_key(key: str, key_prefix: str, version: int) -> str:
    """Every key carries its tenant (or `global` for registry data)."""
    if key.startswith(REGISTRY_PREFIX):
        scope = "global"
    else:
        tenant = current_tenant()
        scope = "global" if tenant is None else tenant.id.hex
    return f"{key_prefix}:{scope}:{version}:{key}"


breaker = CircuitBreaker(
    threshold=getattr(settings, "CACHE_BREAKER_THRESHOLD", 3),
    cooldown=getattr(settings, "CACHE_BREAKER_COOLDOWN_SECONDS", 5.0),
)
breaker.on_open.append(lambda: metrics.breaker_open.labels("cache").set(1))
breaker.on_recovery.append(lambda: metrics.breaker_open.labels("cache").set(0))

REDIS_FAILURES = (ConnectionInterrupted, RedisError, socket.timeout, OSError)
_MISSING = object()


def _guarded(name: str, fallback: Any = None) -> Callable[..., Any]:
    parent = getattr(RedisCache, name)

    def method(self: BreakerRedisCache, *args: Any, **kwargs: Any) -> Any:
        if not breaker.allow():
            return self._fallback(name, fallback, args, kwargs)
        try:
            result = parent(self, *args, **kwargs)
        except REDIS_FAILURES:
            breaker.record_failure()
            return self._fallback(name, fallback, args, kwargs)
        breaker.record_success()
        return result

    method.__name__ = name
    return method


class BreakerRedisCache(RedisCache):
    """django-redis whose failures cost no request (see module docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        options["IGNORE_EXCEPTIONS"] = False  # the breaker decides, not omit_exception
        pool_kwargs = dict(options.get("CONNECTION_POOL_KWARGS", {}))
        # redis-py retries with backoff by default: seconds per call while down.
        pool_kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        options["CONNECTION_POOL_KWARGS"] = pool_kwargs
        super().__init__(server, {**params, "OPTIONS": options})

    @staticmethod
    def _fallback(
        name: str, fallback: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if name == "get":
            return kwargs.get("default", args[1] if len(args) > 1 else None)
        return fallback() if callable(fallback) else fallback

    get = _guarded("get")
    set = _guarded("set", False)
    add = _guarded("add", False)
    delete = _guarded("delete", False)
    get_many = _guarded("get_many", dict)
    set_many = _guarded("set_many", list)
    delete_many = _guarded("delete_many", 0)
    incr = _guarded("incr")
    decr = _guarded("decr")
    has_key = _guarded("has_key", False)
    touch = _guarded("touch", False)
    ttl = _guarded("ttl")
    expire = _guarded("expire", False)

    def clear(self) -> None:
        # FLUSHDB would wipe every tenant's keys.
        raise NotImplementedError("cache.clear() is refused; bump a key version.")

    def ping(self) -> bool:
        """Whether Redis answers now (used by /readyz and the half-open probe)."""
        try:
            ok = bool(self.client.get_client(write=True).ping())
        except REDIS_FAILURES:
            breaker.record_failure()
            return False
        breaker.record_success()
        return ok


def redis_cache() -> BreakerRedisCache | None:
    """The Redis cache, or None when the cache is local memory."""
    backend = caches["default"]
    return backend if isinstance(backend, BreakerRedisCache) else None


def evicts_keys(backend: BreakerRedisCache) -> bool:
    """Whether Redis may drop keys under memory pressure.

    Revocations are mirrored as keys with a TTL: a policy that evicts keys
    (allkeys-* or volatile-*) with a memory limit set would let a revoked
    token through until the copy is reloaded. `noeviction` (writes fail
    instead, and the breaker falls back to the registry) or no limit is safe.
    A Redis that refuses CONFIG (some managed services) cannot be asked.
    """
    try:
        client = backend.client.get_client(write=True)
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "")
        limit = int(client.config_get("maxmemory").get("maxmemory", 0) or 0)
    except (*REDIS_FAILURES, ValueError):
        return False
    return limit > 0 and policy != "noeviction"


def cache_state() -> str:
    """`ok`, or `degraded` while Redis is failing or would evict keys."""
    backend = caches["default"]
    if not isinstance(backend, BreakerRedisCache):
        return "ok"
    if breaker.state == "open":
        return "degraded"
    return "ok" if backend.ping() and not evicts_keys(backend) else "degraded"


# Counters counted in this process while Redis is away: (count, expires).
_local_counts: dict[str, tuple[int, float]] = {}
_local_lock = threading.Lock()


def _count_locally(key: str, window: int) -> int:
    now = time.time()
    with _local_lock:
        count, expires = _local_counts.get(key, (0, now + window))
        if now >= expires:
            count, expires = 0, now + window
        _local_counts[key] = (count + 1, expires)
        if len(_local_counts) > 100_000:  # a flood of keys: forget expired windows
            for stale in [k for k, (_, e) in _local_counts.items() if e <= now]:
                del _local_counts[stale]
        return count + 1


def count_hit(key: str, window: int) -> int:
    """Add one to a counter that lives `window` seconds; returns the new count.

    Shared through Redis; while Redis is failing each process counts for
    itself, so a limit still holds, if only per process.
    """
    if breaker.state != "open":
        try:
            cache.add(key, 0, window)
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr
            count = None
        if isinstance(count, int):  # None: Redis failed, count here instead
            return count
    return _count_locally(key, window)


def peek_count(key: str) -> int:
    """A counter's value now, without adding to it (0 when absent)."""
    now = time.time()
    with _local_lock:
        local, expires = _local_counts.get(key, (0, now))
    local = local if expires > now else 0
    if breaker.state == "open":
        return local
    shared = cache.get(key)
    return max(local, shared if isinstance(shared, int) else 0)


def forget_count(key: str) -> None:
    cache.delete(key)
    with _local_lock:
        _local_counts.pop(key, None)
