"""With Redis stopped, requests keep working and revoked tokens stay revoked."""

import pytest
from django.core.cache import caches

from accounts.revocation import _EPOCH, EPOCH_SECONDS
from tenants.cache import breaker
from tests.conftest import wait_until


@pytest.mark.parametrize("answered_by", ["process copy", "redis copy"])
def test_revocation_survives_a_redis_outage_and_restart(
    own_redis, alice, monkeypatch, answered_by
):
    from accounts import revocation_feed
    from tests.conftest import make_persona

    if answered_by == "redis copy":  # the path a process whose feed is stale takes
        monkeypatch.setattr(revocation_feed, "check", lambda keys: None)

    revoked = make_persona(alice.tenant, role="staff")
    revoked.client.post("/api/auth/logout", {}, format="json")
    assert revoked.client.get("/api/members").json()["code"] == "token_revoked"
    assert alice.client.get("/api/members").status_code == 200

    own_redis.stop()
    for _ in range(20):  # no request fails while Redis is gone
        assert alice.client.get("/api/members").status_code == 200
        assert revoked.client.get("/api/members").status_code == 401
    assert (
        alice.client.post(
            "/api/members", {"first_name": "A", "phone": "+14155550100"}, format="json"
        ).status_code
        == 201
    )
    outage_logout = make_persona(alice.tenant, role="staff")
    assert (
        outage_logout.client.post("/api/auth/logout", {}, format="json").status_code
        == 204
    )

    own_redis.start()  # a fresh Redis: every key is gone
    assert wait_until(lambda: _redis_serves() and breaker.state == "closed")
    if answered_by == "process copy":  # its listener is back, reloaded
        assert wait_until(lambda: revocation_feed.check(["jti:-"]) is not None)
    assert revoked.client.get("/api/members").json()["code"] == "token_revoked"
    assert outage_logout.client.get("/api/members").json()["code"] == "token_revoked"
    if answered_by == "redis copy":  # reloaded from the registry
        assert caches["default"].get(_EPOCH) is not None
    assert alice.client.get("/api/members").status_code == 200


def test_a_revocation_redis_missed_is_not_forgotten_when_it_returns(own_redis, alice):
    """Redis frozen (data kept, writes lost), then back: its copy is not trusted."""
    from tests.conftest import make_persona

    assert alice.client.get("/api/members").status_code == 200  # epoch loaded
    victim = make_persona(alice.tenant, role="staff")
    assert victim.client.get("/api/members").status_code == 200

    own_redis.pause()
    try:
        logout = victim.client.post("/api/auth/logout", {}, format="json")
        assert logout.status_code == 204  # stored in the registry only
        assert victim.client.get("/api/members").status_code == 401
    finally:
        own_redis.resume()
    assert wait_until(lambda: _redis_serves() and breaker.state == "closed")
    response = victim.client.get("/api/members")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert alice.client.get("/api/members").status_code == 200


def test_the_probe_after_an_outage_does_not_trust_the_old_copy(
    own_redis, alice, monkeypatch
):
    """Redis frozen while a token is revoked; the first request back is the probe."""
    from accounts import revocation_feed
    from tests.conftest import make_persona

    # The Redis copy's own path: the in-process copy would answer first.
    monkeypatch.setattr(revocation_feed, "check", lambda keys: None)

    assert alice.client.get("/api/members").status_code == 200  # epoch loaded
    victim = make_persona(alice.tenant, role="staff")
    assert victim.client.get("/api/members").status_code == 200

    own_redis.pause()
    try:
        logout = victim.client.post("/api/auth/logout", {}, format="json")
        assert logout.status_code == 204  # stored in the registry only

        def tripped() -> bool:
            assert alice.client.get("/api/members").status_code == 200
            return breaker.state == "open"

        assert wait_until(tripped)
    finally:
        own_redis.resume()
    assert wait_until(lambda: breaker.state == "half-open")
    response = victim.client.get("/api/members")  # its revocation check probes
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert breaker.state == "closed"


def test_requests_alone_bring_the_cache_back(own_redis, alice):
    """No probe from outside: the half-open call of an ordinary request closes it."""
    assert alice.client.get("/api/members").status_code == 200
    own_redis.stop()
    for _ in range(5):
        assert alice.client.get("/api/members").status_code == 200
    assert breaker.state != "closed"
    own_redis.start()

    def served_and_closed() -> bool:
        assert alice.client.get("/api/members").status_code == 200
        return breaker.state == "closed"

    assert wait_until(served_and_closed)


def _redis_serves() -> bool:
    return caches["default"].set("probe", 1) is True


def test_rate_limits_hold_locally_while_redis_is_down(own_redis, anon, alice, settings):
    settings.RATE_LIMITS = "login=2/15m"
    own_redis.stop()
    body = {"email": alice.user.email, "password": "wrong password!!"}
    assert anon.post("/api/auth/login", body, format="json").status_code == 401
    assert anon.post("/api/auth/login", body, format="json").status_code == 401
    assert anon.post("/api/auth/login", body, format="json").status_code == 429


def test_a_lost_revocation_write_is_not_answered_from_the_stale_copy(
    own_redis, alice, monkeypatch
):
    """A lost write leaves the breaker closed; the next read must not trust Redis."""
    from tests.conftest import make_persona

    # The logout's few failed calls stay under the threshold, as one lost write.
    monkeypatch.setattr(breaker, "threshold", 10)
    assert alice.client.get("/api/members").status_code == 200  # epoch loaded
    victim = make_persona(alice.tenant, role="staff")
    assert victim.client.get("/api/members").status_code == 200
    own_redis.pause()
    try:
        assert (
            victim.client.post("/api/auth/logout", {}, format="json").status_code == 204
        )
    finally:
        own_redis.resume()
    assert breaker.state == "closed"  # fewer failures than the threshold
    response = victim.client.get("/api/members")  # Redis answers this read
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_the_revocation_copy_is_trusted_for_a_short_time_only(own_redis, alice):
    assert alice.client.get("/api/members").status_code == 200  # epoch loaded
    ttl = caches["default"].ttl(_EPOCH)
    assert 0 < ttl <= EPOCH_SECONDS


def test_readyz_is_degraded_when_redis_would_evict_keys(own_redis, anon, registry):
    client = caches["default"].client.get_client(write=True)
    client.config_set("maxmemory", "256mb")
    client.config_set("maxmemory-policy", "allkeys-lru")
    assert anon.get("/readyz").json()["checks"]["cache"] == "degraded"
    client.config_set("maxmemory-policy", "noeviction")
    assert anon.get("/readyz").json()["checks"]["cache"] == "ok"
