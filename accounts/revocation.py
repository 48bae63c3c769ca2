"""Revoked tokens and sessions: always in the registry, mirrored in Redis.

A revoked token must stay refused through a Redis outage and through a Redis
restart that lost every key. The registry table is the truth; Redis holds a
copy plus an `epoch` marker written after a full load, so that a Redis without
the marker is never trusted to say "not revoked". A process that saw Redis fail
(a write may have been lost) removes the marker as soon as Redis answers again,
so the next check reloads the copy from the registry. The marker also expires
after EPOCH_SECONDS, so that a copy missing keys (an eviction, a lost write no
failure reported) is never trusted for longer than that.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.utils import timezone

from accounts import revocation_feed
from accounts.models import LoginSession, Revocation
from tenants.cache import REGISTRY_PREFIX, BreakerRedisCache, breaker, redis_cache

_EPOCH = f"{REGISTRY_PREFIX}revocations:epoch"
EPOCH_SECONDS = 60
_LOADING = f"{REGISTRY_PREFIX}revocations:loading"


def _cache_key(key: str) -> str:
    return f"{REGISTRY_PREFIX}revoked:{key}"


def _distrust_redis_copy() -> None:
    redis = redis_cache()
    if redis is not None:
        redis.delete(_EPOCH)
        revocation_feed.ask_reload()


breaker.on_recovery.append(_distrust_redis_copy)


def _ttl(expires_at: dt.datetime) -> int:
    return max(1, int((expires_at - timezone.now()).total_seconds()) + 1)


def is_revoked(claims: dict[str, Any], *, access: bool = True) -> bool:
    """Whether the token's `jti` or its login session (`sid`) was revoked.

    An access token is checked against this process's copy when it is trusted
    (`revocation_feed`); other tokens (refresh) go to Redis and the registry.
    """
    keys = [f"jti:{claims.get('jti')}", f"sid:{claims.get('sid')}"]
    known = revocation_feed.check(keys) if access else None
    if known is not None:
        return known
    redis = redis_cache()
    # `state`, not `allow()`: taking the half-open probe here would leave the
    # cache call below refused, and Redis would never be tried again.
    state = breaker.state
    if redis is not None and state != "open":
        # Trusted only if Redis has not failed once since it last served: a
        # failed write (a logout's mirror) may be missing from the copy, and
        # the success of this very read drops the epoch only after it answered.
        # A half-open read is such a read too.
        clean = breaker.clean
        found = redis.get_many([_EPOCH, *(_cache_key(k) for k in keys)])
        trusted = clean and breaker.clean
        if trusted and found.get(_EPOCH) is not None:
            return any(found.get(_cache_key(k)) is not None for k in keys)
        if breaker.state == "closed":
            _load_into_redis(redis)
    return Revocation.objects.filter(
        key__in=keys, expires_at__gt=timezone.now()
    ).exists()


def _load_into_redis(redis: BreakerRedisCache) -> None:
    """Copy every live revocation into Redis, then mark Redis complete.

    One process does it (a short lock key); the others read the registry
    meanwhile, which is always right, only slower.
    """
    if not redis.add(_LOADING, 1, 30):
        return
    try:
        now = timezone.now()
        batch: dict[str, int] = {}
        rows = Revocation.objects.filter(expires_at__gt=now).values_list(
            "key", flat=True
        )
        for key in rows.iterator():
            batch[_cache_key(key)] = 1
            if len(batch) >= 1000:
                redis.set_many(batch, _horizon_seconds())
                batch.clear()
        if batch:
            redis.set_many(batch, _horizon_seconds())
        redis.set(_EPOCH, now.timestamp(), EPOCH_SECONDS)
    finally:
        redis.delete(_LOADING)


def _horizon_seconds() -> int:
    return int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()) + 1


def _store(keys: Iterable[str], expires_at: dt.datetime) -> None:
    keys = sorted(set(keys))
    if not keys:
        return
    Revocation.objects.bulk_create(
        [Revocation(key=key, expires_at=expires_at) for key in keys],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["expires_at"],
    )
    redis = redis_cache()
    if redis is not None:
        redis.set_many({_cache_key(key): 1 for key in keys}, _ttl(expires_at))
        revocation_feed.publish(keys, expires_at.timestamp())


def mirror(key: str, expires_at: dt.datetime) -> None:
    """Copy a revocation already written to the registry into Redis."""
    redis = redis_cache()
    if redis is not None:
        redis.set(_cache_key(key), 1, _ttl(expires_at))
        revocation_feed.publish([key], expires_at.timestamp())


def _horizon() -> dt.datetime:
    """Nothing issued now outlives this (the refresh token lifetime)."""
    lifetime = cast(dt.timedelta, settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"])
    return timezone.now() + lifetime


def revoke_jti(jti: str, expires_at: dt.datetime) -> None:
    _store([f"jti:{jti}"], expires_at)


def revoke_sessions(sessions: Iterable[uuid.UUID | str]) -> None:
    """Refuse every access and refresh token of these login sessions."""
    sids = sorted({str(sid) for sid in sessions})
    LoginSession.objects.filter(pk__in=sids, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    _store((f"sid:{sid}" for sid in sids), _horizon())


def revoke_user_sessions(
    user_id: uuid.UUID,
    *,
    tenant_id: uuid.UUID | None = None,
    except_sid: str | None = None,
) -> None:
    """Refuse the user's tokens (in one tenant, or all), maybe sparing one session."""
    live = LoginSession.objects.filter(user_id=user_id, revoked_at=None)
    if tenant_id is not None:
        live = live.filter(tenant_id=tenant_id)
    if except_sid:
        live = live.exclude(pk=except_sid)
    revoke_sessions(live.values_list("pk", flat=True))


def purge_expired() -> int:
    deleted, _ = Revocation.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
