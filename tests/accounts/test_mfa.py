"""TOTP as a second factor: setup, two-step login, drift, disable."""

import datetime as dt

import pyotp
import time_machine

from tests.accounts.conftest import PASSWORD, bearer, login


def test_mfa_setup_enable_and_two_step_login(anon, pastor):
    client = bearer(anon, pastor["access"])
    setup = client.post(
        "/api/auth/mfa/setup", {"password": PASSWORD}, format="json"
    ).json()
    totp = pyotp.TOTP(setup["secret"])
    assert setup["otpauth_url"].startswith("otpauth://totp/")
    assert (
        client.post(
            "/api/auth/mfa/enable", {"code": "000000"}, format="json"
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/auth/mfa/enable", {"code": totp.now()}, format="json"
        ).status_code
        == 200
    )

    anon.credentials()
    challenge = login(anon).json()
    assert challenge["mfa_required"] is True
    assert "access" not in challenge

    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    with time_machine.travel(later, tick=False):
        code = totp.now()
        bad = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": "123456"},
            format="json",
        )
        assert bad.status_code == 401
        ok = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": code},
            format="json",
        )
        assert ok.status_code == 200
        assert ok.json()["user"]["email"] == "pastor@grace.example"
        # the token is single-use, and so is the code
        again = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": code},
            format="json",
        )
        assert again.status_code == 401
        second = login(anon).json()
        replay = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": second["mfa_token"], "code": code},
            format="json",
        )
        assert replay.status_code == 401


def test_mfa_accepts_one_step_of_clock_drift_and_no_more(anon, pastor):
    client = bearer(anon, pastor["access"])
    totp = pyotp.TOTP(
        client.post(
            "/api/auth/mfa/setup", {"password": PASSWORD}, format="json"
        ).json()["secret"]
    )
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        previous = totp.at(now - dt.timedelta(seconds=30))
        too_old = totp.at(now - dt.timedelta(seconds=90))
        assert (
            client.post(
                "/api/auth/mfa/enable", {"code": too_old}, format="json"
            ).status_code
            == 400
        )
        assert (
            client.post(
                "/api/auth/mfa/enable", {"code": previous}, format="json"
            ).status_code
            == 200
        )


def test_an_expired_mfa_token_is_refused(anon, pastor):
    client = bearer(anon, pastor["access"])
    totp = pyotp.TOTP(
        client.post(
            "/api/auth/mfa/setup", {"password": PASSWORD}, format="json"
        ).json()["secret"]
    )
    client.post("/api/auth/mfa/enable", {"code": totp.now()}, format="json")
    anon.credentials()
    challenge = login(anon).json()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)):
        response = anon.post(
            "/api/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "code": totp.now()},
            format="json",
        )
    assert response.json()["code"] == "invalid_token"


def test_mfa_disable_needs_a_valid_code(anon, pastor):
    client = bearer(anon, pastor["access"])
    totp = pyotp.TOTP(
        client.post(
            "/api/auth/mfa/setup", {"password": PASSWORD}, format="json"
        ).json()["secret"]
    )
    now = dt.datetime.now(dt.UTC)
    with time_machine.travel(now, tick=False):
        client.post("/api/auth/mfa/enable", {"code": totp.now()}, format="json")
    with time_machine.travel(now + dt.timedelta(seconds=60), tick=False):
        assert (
            client.post(
                "/api/auth/mfa/disable",
                {"code": "999999", "password": PASSWORD},
                format="json",
            ).status_code
            == 400
        )
        assert (
            client.post(
                "/api/auth/mfa/disable",
                {"code": totp.now(), "password": PASSWORD},
                format="json",
            ).status_code
            == 200
        )
    anon.credentials()
    assert "access" in login(anon).json()
