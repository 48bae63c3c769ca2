"""The second factor: TOTP (RFC 6238) and its ten single-use recovery codes.

Setting it up, turning it off and regenerating the recovery codes ask for the
password again: a stolen access token alone cannot enrol an attacker's
authenticator or lock the holder out.
"""

from __future__ import annotations

import datetime as dt

import pyotp
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.email import send_email
from accounts.errors import InvalidCode, MfaAlreadyEnabled, WrongPassword
from accounts.models import RecoveryCode, User
from accounts.onetime import digest, new_recovery_code, normalise_recovery_code
from tenants.secrets import decrypt, encrypt

RECOVERY_CODES = 10


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
    """A valid TOTP code, never accepted before (a replayed code is refused)."""
    step = _matching_step(secret, code)
    if step is None:
        return False
    # Conditional update: two requests racing with the same code; one wins.
    return bool(
        User.objects.filter(pk=user.pk)
        .exclude(mfa_last_step__gte=step)
        .update(mfa_last_step=step)
    )


def _recovery_hash(user: User, code: str) -> str:
    return digest(f"recovery:{user.pk}:{normalise_recovery_code(code)}")


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one recovery code (each works once); the holder is emailed."""
    if len(normalise_recovery_code(code)) != 10:
        return False
    spent = RecoveryCode.objects.filter(
        user=user, code_hash=_recovery_hash(user, code), used_at=None
    ).update(used_at=timezone.now())
    if spent:
        left = RecoveryCode.objects.filter(user=user, used_at=None).count()
        send_email(to=user.email, template="recovery_code_used", context={"left": left})
    return bool(spent)


def accept_second_factor(user: User, code: str) -> bool:
    """A TOTP code, or one of the recovery codes, wherever a TOTP code is asked."""
    if not user.mfa_enabled:
        return False
    if accept_code(user, decrypt(user.mfa_secret), code):
        return True
    return use_recovery_code(user, code)


def new_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes replace the old ones; shown once, stored hashed."""
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        try:
            RecoveryCode.objects.bulk_create(
                [
                    RecoveryCode(user=user, code_hash=_recovery_hash(user, c))
                    for c in codes
                ]
            )
        except IntegrityError:  # two equal codes out of 2**50: draw again
            return new_recovery_codes(user)
    return codes


def check_password(user: User, password: str) -> None:
    if not user.check_password(password or ""):
        raise WrongPassword()


def mfa_setup(*, user: User, password: str) -> dict[str, str]:
    check_password(user, password)
    if user.mfa_enabled:
        raise MfaAlreadyEnabled()
    secret = pyotp.random_base32()
    user.mfa_secret = encrypt(secret)
    user.save(update_fields=["mfa_secret"])
    return {"secret": secret, "otpauth_url": provisioning_uri(user, secret)}


def provisioning_uri(user: User, secret: str) -> str:
    return _totp(secret).provisioning_uri(name=user.email, issuer_name="churchtext")


def mfa_enable(*, user: User, code: str) -> list[str]:
    """Turn MFA on with a first code; returns the recovery codes (shown once)."""
    if not user.mfa_secret or user.mfa_enabled:
        raise InvalidCode()
    if not accept_code(user, decrypt(user.mfa_secret), code):
        raise InvalidCode()
    User.objects.filter(pk=user.pk).update(mfa_enabled=True)
    return new_recovery_codes(user)


def mfa_disable(*, user: User, code: str, password: str) -> None:
    check_password(user, password)
    if not accept_second_factor(user, code):
        raise InvalidCode()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            mfa_enabled=False, mfa_secret="", mfa_last_step=None
        )
        RecoveryCode.objects.filter(user=user).delete()


def regenerate_recovery_codes(*, user: User, password: str) -> list[str]:
    check_password(user, password)
    if not user.mfa_enabled:
        raise InvalidCode("Turn MFA on first.")
    return new_recovery_codes(user)
