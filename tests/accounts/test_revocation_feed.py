"""Each process checks tokens against its own copy of the revocations, fed by Redis."""

import datetime as dt
import json

import redis
from django.utils import timezone

from accounts import revocation_feed
from accounts.models import Revocation
from tenants.cache import BreakerRedisCache, breaker, redis_cache
from tests.conftest import make_persona, wait_until


def _copy():
    return revocation_feed._current()


def _fresh_feed(alice) -> None:
    assert alice.client.get("/api/members").status_code == 200  # starts the feed
    assert wait_until(lambda: _copy().fresh())


def _code(persona) -> str | int:
    response = persona.client.get("/api/members")
    return response.json()["code"] if response.status_code != 200 else 200


def _sid(persona) -> str:
    from accounts.tokens import refresh_claims

    return refresh_claims(persona.tokens["refresh"])["sid"]


def test_a_revocation_from_another_process_is_refused_with_no_redis_read(
    own_redis, alice, monkeypatch
):
    _fresh_feed(alice)
    victim = make_persona(alice.tenant, role="staff")
    assert _code(victim) == 200

    def no_round_trip(*args, **kwargs):
        raise AssertionError("a warm request read Redis")

    monkeypatch.setattr(BreakerRedisCache, "get_many", no_round_trip)
    assert _code(victim) == 200
    # What another process's logout publishes; nothing here writes the registry
    # or the Redis copy, so only the feed can refuse the token.
    expires = (timezone.now() + dt.timedelta(hours=1)).timestamp()
    message = {"keys": [f"sid:{_sid(victim)}"], "expires_at": expires}
    redis.Redis.from_url(own_redis.url).publish(_copy().channel, json.dumps(message))
    assert wait_until(lambda: _code(victim) == "token_revoked", timeout=5)
    assert _code(alice) == 200


def test_a_feed_that_stops_hearing_redis_is_not_trusted(own_redis, alice):
    _fresh_feed(alice)
    victim = make_persona(alice.tenant, role="staff")
    assert _code(victim) == 200
    # Written to the registry only: a revocation whose publish was lost.
    Revocation.objects.create(
        key=f"sid:{_sid(victim)}", expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    own_redis.pause()
    try:
        assert wait_until(lambda: not _copy().fresh(), timeout=10)
        assert revocation_feed.check([f"sid:{_sid(victim)}"]) is None
        assert _code(victim) == "token_revoked"  # from the registry
    finally:
        own_redis.resume()
    assert wait_until(lambda: _copy().fresh())
    assert _code(victim) == "token_revoked"  # the copy was reloaded on return


def test_a_recovered_writer_makes_every_copy_reload(own_redis, alice):
    _fresh_feed(alice)
    victim = make_persona(alice.tenant, role="staff")
    Revocation.objects.create(
        key=f"sid:{_sid(victim)}", expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    # The copy trusts what it was told: a lost publish goes unseen ...
    assert revocation_feed.check([f"sid:{_sid(victim)}"]) is False
    # ... until a process that saw Redis fail sees it serve again.
    breaker.record_failure()
    assert redis_cache().ping()  # the success that closes the breaker
    assert wait_until(lambda: _code(victim) == "token_revoked", timeout=5)


def test_without_redis_there_is_no_copy(registry, settings, alice):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    assert revocation_feed.check(["sid:x"]) is None
    assert _code(alice) == 200


def test_the_copy_holds_only_what_an_access_token_can_match(own_redis, alice):
    """Spent refresh tokens (one per refresh, kept for days) stay in the registry."""
    _fresh_feed(alice)
    now = timezone.now()
    later, soon = now + dt.timedelta(days=7), now + dt.timedelta(minutes=5)
    revocation_feed.publish(["jti:a-refresh-token", "sid:a-session"], later.timestamp())
    revocation_feed.publish(["jti:an-access-token"], soon.timestamp())
    held = _copy().revoked
    assert "jti:a-refresh-token" not in held
    assert {"sid:a-session", "jti:an-access-token"} <= held.keys()


def test_a_reload_request_that_could_not_be_sent_is_sent_later(
    own_redis, alice, monkeypatch
):
    _fresh_feed(alice)
    key = "sid:written-to-the-registry-only"
    Revocation.objects.create(key=key, expires_at=timezone.now() + dt.timedelta(1))
    with monkeypatch.context() as down:
        down.setattr(breaker, "allow", lambda: False)  # as if Redis were failing
        revocation_feed.ask_reload()
    assert _copy().unsent
    # The listener sends it once Redis serves, and every copy reloads.
    assert wait_until(lambda: revocation_feed.check([key]) is True, timeout=5)
    assert not _copy().unsent


def test_a_stopped_feed_has_no_listener_and_the_next_check_starts_one(own_redis, alice):
    _fresh_feed(alice)
    first = _copy()
    revocation_feed.stop()
    assert not first.thread.is_alive()
    assert revocation_feed._copy is None
    _fresh_feed(alice)  # a later request is served by a listener of its own
    assert _copy() is not first
