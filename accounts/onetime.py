"""One-time secrets: link tokens and short codes, stored only as keyed hashes.

A link token is 32 random bytes; a code is 6 digits (texted) or 10 base32
characters (recovery). Only an HMAC of each is kept, keyed by SECRET_KEY, so
a copy of the registry alone cannot turn stored hashes back into usable links
or codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def digest(value: str) -> str:
    key = hashlib.sha256(f"one-time:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def new_token() -> tuple[str, str]:
    """A link token and the hash to store."""
    raw = secrets.token_urlsafe(32)
    return raw, digest(raw)


def new_digits(count: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def new_recovery_code() -> str:
    """Ten base32 characters shown as xxxxx-xxxxx."""
    raw = "".join(secrets.choice(_BASE32) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}".lower()


def normalise_recovery_code(typed: str) -> str:
    """Case and the dash do not matter when a code is typed."""
    return "".join(ch for ch in str(typed).upper() if ch in _BASE32)
