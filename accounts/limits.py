"""Rate limits on identity: fixed windows per account, per phone, per client address.

Counters live in the cache (`tenants.cache.count_hit`: shared through Redis,
counted per process while Redis is failing). Logins and MFA steps count only
their failures, so that successful logins behind one proxy never lock others
out; registration, recovery and phone codes count every attempt.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from dataclasses import dataclass

from django.conf import settings

from api.errors import TooManyRequests
from tenants.cache import REGISTRY_PREFIX, count_hit, forget_count, peek_count

DEFAULTS = {
    "login": "10/15m",
    "register": "20/h",
    "mfa": "10/15m",
    "recover": "5/h",
    "phone_code": "5/h",
}
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


@functools.cache
def parse_limits(spec: str) -> dict[str, Limit | None]:
    """Parse `login=10/15m,register=20/h`; keys left out keep their default."""
    if spec.strip().lower() == "off":
        return dict.fromkeys(DEFAULTS)
    raw = dict(DEFAULTS)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        if name.strip() not in DEFAULTS:
            raise ValueError(f"unknown rate limit {name!r}")
        raw[name.strip()] = value.strip()
    limits: dict[str, Limit | None] = {}
    for name, value in raw.items():
        match = re.fullmatch(r"(\d+)/(\d*)([smh])", value)
        if not match:
            raise ValueError(
                f"bad rate limit {name}={value!r} (use N/s, N/m, N/15m, N/h)"
            )
        count, multiple, unit = match.groups()
        limits[name] = Limit(int(count), int(multiple or 1) * _UNITS[unit])
    return limits


def _key(scope: str, identity: str, window_start: int) -> str:
    # Identities are client input (an email typed at login): hash them.
    digest = hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()[:32]
    return f"{REGISTRY_PREFIX}rate:{scope}:{digest}:{window_start}"


def _window(limit: Limit) -> tuple[int, int]:
    """The current window's start, and the seconds until it ends."""
    now = int(time.time())
    start = now // limit.seconds * limit.seconds
    return start, max(1, start + limit.seconds - now)


def check(scope: str, *identities: str) -> None:
    """Count one attempt for each identity; raise 429 when any is over its limit."""
    limit = parse_limits(settings.RATE_LIMITS).get(scope)
    if limit is None:
        return
    start, retry_after = _window(limit)
    for identity in filter(None, identities):
        if count_hit(_key(scope, identity, start), limit.seconds) > limit.count:
            raise TooManyRequests(retry_after=retry_after)


def refuse_if_over(scope: str, *identities: str) -> None:
    """Raise 429 when an identity has used up its limit; counts nothing."""
    limit = parse_limits(settings.RATE_LIMITS).get(scope)
    if limit is None:
        return
    start, retry_after = _window(limit)
    for identity in filter(None, identities):
        if peek_count(_key(scope, identity, start)) >= limit.count:
            raise TooManyRequests(retry_after=retry_after)


def record_failure(scope: str, *identities: str) -> None:
    """Count one failed attempt for each identity (see `refuse_if_over`)."""
    limit = parse_limits(settings.RATE_LIMITS).get(scope)
    if limit is None:
        return
    start, _ = _window(limit)
    for identity in filter(None, identities):
        count_hit(_key(scope, identity, start), limit.seconds)


def reset(scope: str, identity: str) -> None:
    """Forget an identity's attempts (a successful login clears its account)."""
    limit = parse_limits(settings.RATE_LIMITS).get(scope)
    if limit is None:
        return
    forget_count(_key(scope, identity, _window(limit)[0]))
