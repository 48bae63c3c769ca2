"""Tenant-scoped cache keys and a Redis outage that costs no request."""

import pytest
from django.core.cache import cache

from tenants.cache import BreakerRedisCache, breaker, tenant_key
from tenants.context import tenant_context
from tests.conftest import wait_until


def test_cache_keys_are_scoped_by_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        cache.set("greeting", "from A")
    with tenant_context(tenant_b):
        assert cache.get("greeting") is None
        cache.set("greeting", "from B")
    with tenant_context(tenant_a):
        assert cache.get("greeting") == "from A"
    assert cache.get("greeting") is None


def test_registry_keys_are_global_even_inside_a_tenant(tenant_a):
    with tenant_context(tenant_a):
        inside = tenant_key("registry:tenant:1", "p", 1)
    assert (
        inside
        == tenant_key("registry:tenant:1", "p", 1)
        == "p:global:1:registry:tenant:1"
    )


@pytest.fixture
def redis_cache(redis_server, monkeypatch):
    monkeypatch.setattr(breaker, "cooldown", 0.2)
    breaker.reset()
    backend = BreakerRedisCache(
        redis_server.url,
        {
            "KEY_FUNCTION": "tenants.cache.tenant_key",
            "KEY_PREFIX": "t",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
        },
    )
    yield backend
    breaker.reset()


def test_a_stopped_redis_falls_back_and_recovers_by_itself(redis_server, redis_cache):
    assert redis_cache.set("k", "v") is True
    assert redis_cache.get("k") == "v"

    redis_server.stop()
    assert redis_cache.get("k", "fallback") == "fallback"  # no exception
    assert redis_cache.set("k", "v2") is False
    assert redis_cache.get_many(["k"]) == {}
    assert redis_cache.incr("counter") is None
    assert breaker.state == "open"
    assert redis_cache.get("k") is None  # served without touching Redis

    redis_server.start()
    assert wait_until(lambda: redis_cache.set("k", "back") is True)
    assert breaker.state == "closed"
    assert redis_cache.get("k") == "back"


def test_half_open_lets_one_probe_through(redis_server, redis_cache):
    redis_server.stop()
    for _ in range(breaker.threshold):
        redis_cache.get("k")
    assert breaker.state == "open"
    assert wait_until(lambda: breaker.state == "half-open")
    assert breaker.allow() is True  # the probe
    assert breaker.allow() is False  # the others wait for its outcome


def test_clear_is_refused_because_it_would_flush_every_tenant(redis_cache):
    with pytest.raises(NotImplementedError):
        redis_cache.clear()
