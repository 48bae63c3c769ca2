"""TOTP second factor (RFC 6238): setup, enable, disable, and code checks."""

from __future__ import annotations

import datetime as dt

import pyotp
from django.utils import timezone

from accounts.errors import MfaAlreadyEnabled
from accounts.models import User
from tenants.secrets import decrypt, encrypt


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _matching_step(secret: str, code: str) -> int | None:
    """The time step a code belongs to, within one step either side of now."""
    code = str(code or "").strip()
    if not code.isdigit():
        return None
    totp = _totp(secret)
    now = timezone.now()
    for offset in (0, -1, 1):
        moment = now + dt.timedelta(seconds=offset * totp.interval)
        if totp.verify(code, for_time=moment, valid_window=0):
            return totp.timecode(moment)
    return None


def accept_code(user: User, secret: str, code: str) -> bool:
    """A valid code, never accepted before (replay of a used code is refused)."""
    step = _matching_step(secret, code)
    if step is None:
        return False
    # Conditional update: two requests racing with the same code; one wins.
    return bool(
        User.objects.filter(pk=user.pk)
        .exclude(mfa_last_step__gte=step)
        .update(mfa_last_step=step)
    )


def mfa_setup(*, user: User) -> dict[str, str]:
    if user.mfa_enabled:
        raise MfaAlreadyEnabled()
    secret = pyotp.random_base32()
    user.mfa_secret = encrypt(secret)
    user.save(update_fields=["mfa_secret"])
    uri = _totp(secret).provisioning_uri(name=user.email, issuer_name="churchtext")
    return {"secret": secret, "otpauth_url": uri}


def mfa_enable(*, user: User, code: str) -> bool:
    if not user.mfa_secret or user.mfa_enabled:
        return False
    if not accept_code(user, decrypt(user.mfa_secret), code):
        return False
    User.objects.filter(pk=user.pk).update(mfa_enabled=True)
    return True


def mfa_disable(*, user: User, code: str) -> bool:
    if not user.mfa_enabled or not accept_code(user, decrypt(user.mfa_secret), code):
        return False
    User.objects.filter(pk=user.pk).update(
        mfa_enabled=False, mfa_secret="", mfa_last_step=None
    )
    return True
