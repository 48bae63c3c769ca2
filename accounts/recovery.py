"""Proving an address and getting back in: email links, phone codes, resets.

A texted code is a restricted authenticator (NIST SP 800-63B-4): it helps a
reset as a second channel beside the email link, never alone. A reset signs
the account out everywhere and tells its holder.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import uuid

from celery import shared_task
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts import limits, revocation
from accounts.email import app_link, send_email
from accounts.errors import InvalidCode, InvalidLink
from accounts.mfa import accept_second_factor, check_password
from accounts.models import OneTimeLink, PhoneCode, User
from accounts.onetime import digest, new_digits, new_token
from api.errors import InvalidInput, NotAvailable
from sms.backends import OutboundSMS, PermanentError, TransientError, get_backend

logger = logging.getLogger(__name__)

VERIFY_LIFETIME = dt.timedelta(days=7)
RESET_LIFETIME = dt.timedelta(minutes=30)
CODE_LIFETIME = dt.timedelta(minutes=10)
CODE_TRIES = 5

Purpose = OneTimeLink.Purpose


# --- one-time links -------------------------------------------------------------


def _issue_link(user: User, purpose: str, lifetime: dt.timedelta) -> str:
    raw, hashed = new_token()
    OneTimeLink.objects.create(
        user=user,
        purpose=purpose,
        token_hash=hashed,
        expires_at=timezone.now() + lifetime,
    )
    return raw


def _open_link(raw: str, purpose: str) -> OneTimeLink:
    link = (
        OneTimeLink.objects.select_related("user")
        .filter(token_hash=digest(str(raw)), purpose=purpose)
        .first()
    )
    if (
        link is None
        or link.used_at is not None
        or link.expires_at <= timezone.now()
        or not link.user.is_active
    ):
        raise InvalidLink()
    return link


def _spend_link(link: OneTimeLink) -> None:
    """Single use, even for two requests racing with the same link."""
    if not OneTimeLink.objects.filter(pk=link.pk, used_at=None).update(
        used_at=timezone.now()
    ):
        raise InvalidLink()


# --- email verification ---------------------------------------------------------


def send_verification(user: User) -> None:
    raw = _issue_link(user, Purpose.VERIFY_EMAIL, VERIFY_LIFETIME)
    send_email(
        to=user.email,
        template="verify_email",
        context={"name": user.first_name, "link": app_link("verify-email", raw)},
    )


def request_verification(*, user: User) -> None:
    """Send the account a new verification link (nothing if already verified)."""
    if user.email_verified:
        return
    limits.check("recover", f"account:{user.pk}")
    send_verification(user)


def verify_email(*, token: str) -> None:
    link = _open_link(token, Purpose.VERIFY_EMAIL)
    with transaction.atomic():
        _spend_link(link)
        User.objects.filter(pk=link.user_id).update(email_verified=True)


# --- texts from the platform's own number -----------------------------------------


def send_text(*, to: str, body: str) -> None:
    """Text `to` from PLATFORM_SMS_FROM once the registry transaction commits."""
    transaction.on_commit(lambda: send_text_task.delay(to, body))


@shared_task(name="accounts.recovery.send_text_task")
def send_text_task(to: str, body: str) -> bool:
    message = OutboundSMS(
        to=to, from_=settings.PLATFORM_SMS_FROM, body=body, key=str(uuid.uuid4())
    )
    try:
        get_backend().send(message)
    except (TransientError, PermanentError) as exc:
        logger.error("text to %s not sent: %s", to, exc)
        return False
    return True


def _new_code(user: User, phone: str, purpose: str, link: OneTimeLink | None) -> None:
    code = new_digits()
    PhoneCode.objects.create(
        user=user,
        phone=phone,
        purpose=purpose,
        link=link,
        code_hash=digest(f"phone:{user.pk}:{code}"),
        expires_at=timezone.now() + CODE_LIFETIME,
    )
    send_text(to=phone, body=f"churchtext code: {code}. It expires in 10 minutes.")


def _match_code(codes: QuerySet[PhoneCode], user: User, code: str) -> PhoneCode:
    """The newest live code if `code` is it; each try counts, five at most."""
    latest = (
        codes.filter(used_at=None, expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )
    if latest is None:
        raise InvalidCode("No code is waiting: ask for a new one.")
    tried = PhoneCode.objects.filter(pk=latest.pk, attempts__lt=CODE_TRIES).update(
        attempts=F("attempts") + 1
    )
    expected = digest(f"phone:{user.pk}:{str(code or '').strip()}")
    if not tried or not hmac.compare_digest(latest.code_hash, expected):
        raise InvalidCode()
    return latest


def _spend_code(code: PhoneCode) -> None:
    if not PhoneCode.objects.filter(pk=code.pk, used_at=None).update(
        used_at=timezone.now()
    ):
        raise InvalidCode()


# --- phone linking ----------------------------------------------------------------


def start_phone_link(*, user: User, phone: str, password: str, address: str) -> None:
    """Text a code to `phone`; `confirm_phone` with it links the phone."""
    check_password(user, password)
    if not settings.PLATFORM_SMS_FROM:
        raise NotAvailable("Phone linking needs PLATFORM_SMS_FROM on this service.")
    limits.check(
        "phone_code", f"account:{user.pk}", f"phone:{phone}", f"address:{address}"
    )
    _new_code(user, phone, PhoneCode.Purpose.LINK, None)


def confirm_phone(*, user: User, code: str) -> str:
    codes = PhoneCode.objects.filter(user=user, purpose=PhoneCode.Purpose.LINK)
    matched = _match_code(codes, user, code)  # a wrong try counts: not rolled back
    with transaction.atomic():
        _spend_code(matched)
        User.objects.filter(pk=user.pk).update(phone=matched.phone)
    return matched.phone


def unlink_phone(*, user: User, password: str) -> None:
    check_password(user, password)
    User.objects.filter(pk=user.pk).update(phone="")


# --- password reset ---------------------------------------------------------------


def forgot_password(*, email: str, address: str) -> None:
    """Email a reset link to an account's own address; silent either way.

    Only an address proven by a link, or the one the account signed up with,
    gets it: never one that another church typed in for someone.
    """
    email = str(email or "").strip().lower()
    limits.check("recover", f"account:{email}", f"address:{address}")
    user = User.objects.filter(email=email, is_active=True).first()
    if user is None or not (user.email_verified or user.registered):
        return
    raw = _issue_link(user, Purpose.RESET_PASSWORD, RESET_LIFETIME)
    send_email(
        to=user.email,
        template="reset_password",
        context={"link": app_link("reset-password", raw)},
    )


def send_reset_code(*, token: str, address: str) -> None:
    """The reset's second channel: a code to the linked phone (if there is one)."""
    link = _open_link(token, Purpose.RESET_PASSWORD)
    user = link.user
    if not user.phone:
        return
    limits.check(
        "phone_code", f"account:{user.pk}", f"phone:{user.phone}", f"address:{address}"
    )
    _new_code(user, user.phone, PhoneCode.Purpose.RESET, link)


def reset_password(
    *,
    token: str,
    password: str,
    sms_code: str | None,
    otp: str | None,
    address: str,
) -> None:
    """A new password: the email link, plus the texted code when a phone is
    linked, plus a TOTP or recovery code when MFA is on."""
    link = _open_link(token, Purpose.RESET_PASSWORD)
    user = link.user
    limits.check("recover", f"account:{user.pk}", f"address:{address}")
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(fields={"password": list(exc.messages)}) from exc
    texted = None
    if user.phone:
        if not sms_code:
            raise InvalidInput(
                fields={
                    "sms_code": ["Send the code to the linked phone, then give it."]
                }
            )
        codes = PhoneCode.objects.filter(
            user=user, purpose=PhoneCode.Purpose.RESET, link=link
        )
        try:
            texted = _match_code(codes, user, sms_code)
        except InvalidCode as exc:
            raise InvalidInput(fields={"sms_code": [exc.message]}) from exc
    if user.mfa_enabled and not accept_second_factor(user, otp or ""):
        raise InvalidInput(fields={"otp": ["Give a code from your authenticator app."]})
    with transaction.atomic():
        _spend_link(link)
        if texted is not None:
            _spend_code(texted)
        user.set_password(password)
        user.email_verified = True  # the link reached this address
        user.save(update_fields=["password", "email_verified"])
        revocation.revoke_user_sessions(user.pk)
    send_email(to=user.email, template="password_changed", context={})
    if user.phone:
        send_text(to=user.phone, body="Your churchtext password was reset.")
