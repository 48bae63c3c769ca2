"""Attacks on the operators' console login: a password alone, guessing, staying on."""

import datetime as dt

import pyotp
import pytest
import time_machine
from django.test import Client

from accounts.models import User
from tenants.secrets import decrypt, encrypt

PASSWORD = "operator passphrase 1"
TENANTS = "/admin/tenants/tenant/"
TOO_MANY = b"Too many failed attempts"


@pytest.fixture(autouse=True)
def _limits(registry, settings):
    settings.RATE_LIMITS = "login=10/15m"
    settings.ADMIN_REQUIRE_MFA = False


def operator(email: str, *, mfa: bool = False) -> pyotp.TOTP | None:
    user = User.objects.create_superuser(email, PASSWORD)
    if not mfa:
        return None
    secret = pyotp.random_base32()
    User.objects.filter(pk=user.pk).update(mfa_secret=encrypt(secret), mfa_enabled=True)
    return pyotp.TOTP(secret)


def log_in(client, email, password=PASSWORD, code="", **extra):
    return client.post(
        "/admin/login/",
        {"username": email, "password": password, "code": code, "next": TENANTS},
        **extra,
    )


def reaches_tenants(client) -> bool:
    return client.get(TENANTS).status_code == 200


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that no step around now accepts."""
    now = dt.datetime.now(dt.UTC)
    valid = {totp.at(now + dt.timedelta(seconds=s)) for s in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)


def test_the_password_alone_does_not_open_the_console_of_an_operator_with_mfa(
    client,
):
    totp = operator("ops@example.org", mfa=True)
    refused = log_in(client, "ops@example.org")
    assert refused.status_code == 200
    assert b"valid code" in refused.content
    assert not reaches_tenants(client)
    assert log_in(client, "ops@example.org", code=wrong_code(totp)).status_code == 200
    assert not reaches_tenants(client)

    answer = log_in(client, "ops@example.org", code=totp.now())
    assert answer.status_code == 302
    assert answer.url == TENANTS
    assert reaches_tenants(client)


def test_fifteen_wrong_passwords_end_in_refusals_for_the_account_and_the_address(
    client,
):
    totp = operator("ops@example.org", mfa=True)
    operator("other@example.org")
    answers = [
        log_in(client, "ops@example.org", password=f"guess {n}") for n in range(15)
    ]
    assert all(a.status_code == 200 for a in answers)  # a form error, not a 500
    assert [TOO_MANY in a.content for a in answers] == [False] * 10 + [True] * 5

    # The right password and code are refused too, from another address as well.
    elsewhere = Client(REMOTE_ADDR="203.0.113.7")
    right = log_in(elsewhere, "ops@example.org", code=totp.now())
    assert TOO_MANY in right.content
    assert not reaches_tenants(elsewhere)
    # This address is refused for any account; another operator elsewhere is not.
    assert TOO_MANY in log_in(client, "other@example.org").content
    assert not reaches_tenants(client)
    assert (
        log_in(Client(REMOTE_ADDR="203.0.113.8"), "other@example.org").status_code
        == 302
    )


def test_wrong_codes_after_the_right_password_count_too(client):
    totp = operator("ops@example.org", mfa=True)
    for _ in range(10):
        assert (
            b"valid code"
            in log_in(client, "ops@example.org", code=wrong_code(totp)).content
        )
    assert TOO_MANY in log_in(client, "ops@example.org", code=totp.now()).content
    assert not reaches_tenants(client)


def test_successful_logins_do_not_lock_out_another_operator_at_the_same_address(
    settings,
):
    settings.RATE_LIMITS = "login=3/15m"
    operator("first@example.org")
    operator("second@example.org")
    for _ in range(5):
        first = Client()
        assert log_in(first, "first@example.org").status_code == 302
    second = Client()
    assert log_in(second, "second@example.org").status_code == 302
    assert reaches_tenants(second)

    # Failures do count, at this same limit.
    late = Client()
    for _ in range(3):
        assert TOO_MANY not in log_in(late, "second@example.org", password="x").content
    assert TOO_MANY in log_in(late, "second@example.org").content


def test_without_mfa_the_operator_must_enrol_before_getting_in(client, settings):
    settings.ADMIN_REQUIRE_MFA = True
    operator("new@example.org")
    assert client.get("/admin/login/enrol/").status_code == 302  # no password yet

    answer = log_in(client, "new@example.org")
    assert answer.status_code == 302
    assert answer.url == "/admin/login/enrol/"
    assert not reaches_tenants(client)

    page = client.get("/admin/login/enrol/")
    assert page.status_code == 200
    assert b"<svg" in page.content
    secret = decrypt(User.objects.get(email="new@example.org").mfa_secret)
    assert page.context["secret"].replace(" ", "") == secret
    totp = pyotp.TOTP(secret)

    wrong = client.post("/admin/login/enrol/", {"code": wrong_code(totp)})
    assert wrong.status_code == 200
    assert b"valid code" in wrong.content
    assert not reaches_tenants(client)

    enrolled = client.post("/admin/login/enrol/", {"code": totp.now()})
    assert enrolled.status_code == 200
    codes = enrolled.context["codes"]
    assert len(codes) == 10
    assert all(code.encode() in enrolled.content for code in codes)
    assert reaches_tenants(client)
    assert User.objects.get(email="new@example.org").mfa_enabled
    assert client.get("/admin/login/enrol/").status_code == 302  # shown once

    # From now on the password alone is refused; a recovery code stands in.
    later = Client()
    assert log_in(later, "new@example.org").status_code == 200
    assert not reaches_tenants(later)
    assert log_in(later, "new@example.org", code=codes[0]).status_code == 302
    assert reaches_tenants(later)


def test_a_session_without_mfa_does_not_open_the_console_once_it_is_required(
    client, settings
):
    client.force_login(User.objects.create_superuser("ops@example.org", PASSWORD))
    assert reaches_tenants(client)  # logged in before the requirement
    settings.ADMIN_REQUIRE_MFA = True
    assert not reaches_tenants(client)


def test_without_the_requirement_the_password_is_enough_until_mfa_is_on(client):
    operator("ops@example.org")
    assert log_in(client, "ops@example.org").status_code == 302
    assert reaches_tenants(client)

    secret = pyotp.random_base32()  # turned on, as the API's MFA setup does
    User.objects.filter(email="ops@example.org").update(
        mfa_secret=encrypt(secret), mfa_enabled=True
    )
    later = Client()
    assert log_in(later, "ops@example.org").status_code == 200
    assert not reaches_tenants(later)
    code = pyotp.TOTP(secret).now()
    assert log_in(later, "ops@example.org", code=code).status_code == 302


def test_a_console_session_ends_its_configured_age_after_the_login(client, settings):
    settings.SESSION_COOKIE_AGE = 3600
    totp = operator("ops@example.org", mfa=True)
    start = dt.datetime.now(dt.UTC)
    with time_machine.travel(start, tick=False):
        assert log_in(client, "ops@example.org", code=totp.now()).status_code == 302
        assert client.session.get_expiry_age() == 3600

    with time_machine.travel(start + dt.timedelta(seconds=3540), tick=False):
        assert reaches_tenants(client)
        session = client.session  # activity that writes to the session
        session["seen"] = True
        session.save()

    with time_machine.travel(start + dt.timedelta(seconds=3601), tick=False):
        assert not reaches_tenants(client)
