"""Getting back in: email verification, resets, a linked phone, recovery codes."""

import datetime as dt
import smtplib

import pyotp
import pytest
import time_machine

from accounts.models import User
from tests.accounts.conftest import (
    PASSWORD,
    bearer,
    last_email,
    link_token,
    login,
    texted_code,
)

NEW = "a brand new passphrase 77"
PHONE = "+14155550177"


def test_registration_sends_a_verification_link(anon, registry, mailoutbox):
    from tests.accounts.conftest import register

    session = register(anon).json()
    assert session["user"]["email_verified"] is False
    token = link_token(last_email(mailoutbox, "pastor@grace.example"), "verify-email")
    verify = anon.post("/api/auth/email/verify", {"token": token}, format="json")
    assert verify.status_code == 204
    me = bearer(anon, session["access"]).get("/api/auth/me").json()
    assert me["user"]["email_verified"] is True
    anon.credentials()
    again = anon.post("/api/auth/email/verify", {"token": token}, format="json")
    assert again.json()["code"] == "invalid_link"


def _forgot(client, email="pastor@grace.example"):
    return client.post("/api/auth/password/forgot", {"email": email}, format="json")


def _reset(client, token, **extra):
    body = {"token": token, "password": NEW, **extra}
    return client.post("/api/auth/password/reset", body, format="json")


def test_forgot_answers_the_same_for_any_email(anon, pastor, mailoutbox):
    known, unknown = _forgot(anon), _forgot(anon, "nobody@x.example")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mailoutbox if "Reset" in m.subject] == [
        ["pastor@grace.example"]
    ]


def test_a_reset_sets_the_password_and_ends_every_session(anon, pastor, mailoutbox):
    old = pastor["access"]
    _forgot(anon)
    token = link_token(last_email(mailoutbox, "pastor@grace.example"), "reset-password")
    assert _reset(anon, token, password="short").status_code == 400
    assert _reset(anon, token).status_code == 204
    assert bearer(anon, old).get("/api/members").json()["code"] == "token_revoked"
    anon.credentials()
    assert login(anon).status_code == 401
    assert login(anon, password=NEW).status_code == 200
    assert "reset" in last_email(mailoutbox, "pastor@grace.example").subject.lower()
    assert _reset(anon, token).json()["code"] == "invalid_link"  # one use


def test_a_reset_link_expires_after_thirty_minutes(anon, pastor, mailoutbox):
    _forgot(anon)
    token = link_token(last_email(mailoutbox, "pastor@grace.example"), "reset-password")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=31)):
        assert _reset(anon, token).json()["code"] == "invalid_link"


def test_no_reset_email_to_an_address_nobody_proved(anon, alice, mailoutbox):
    # An account another church typed in (the old way) has proven nothing.
    User.objects.create_user("typed-in@x.example", "some passphrase here 1")
    _forgot(anon, "typed-in@x.example")
    assert not [m for m in mailoutbox if "typed-in@x.example" in m.to]


def _link_phone(client, texts):
    started = client.post(
        "/api/auth/phone",
        {"phone": "(415) 555-0177", "password": PASSWORD},
        format="json",
    )
    assert started.status_code == 202, started.content
    code = texted_code(texts, PHONE)
    linked = client.post("/api/auth/phone/verify", {"code": code}, format="json")
    assert linked.json() == {"phone": PHONE}


def test_phone_linking_needs_the_password_and_the_texted_code(anon, pastor, texts):
    client = bearer(anon, pastor["access"])
    wrong = client.post(
        "/api/auth/phone", {"phone": PHONE, "password": "nope"}, format="json"
    )
    assert wrong.status_code == 400
    assert "password" in wrong.json()["fields"]
    client.post(
        "/api/auth/phone", {"phone": PHONE, "password": PASSWORD}, format="json"
    )
    bad = client.post("/api/auth/phone/verify", {"code": "000000"}, format="json")
    assert bad.status_code == 400
    assert client.get("/api/auth/me").json()["phone"] is None
    texts.clear()
    _link_phone(client, texts)
    assert client.get("/api/auth/me").json()["phone"] == PHONE
    gone = client.delete("/api/auth/phone", {"password": PASSWORD}, format="json")
    assert gone.status_code == 204
    assert client.get("/api/auth/me").json()["phone"] is None


def test_a_code_allows_five_tries(anon, pastor, texts):
    client = bearer(anon, pastor["access"])
    client.post(
        "/api/auth/phone", {"phone": PHONE, "password": PASSWORD}, format="json"
    )
    code = texted_code(texts, PHONE)
    for _ in range(5):
        client.post("/api/auth/phone/verify", {"code": "111111"}, format="json")
    late = client.post("/api/auth/phone/verify", {"code": code}, format="json")
    assert late.status_code == 400


def test_too_many_codes_are_refused_with_retry_after(anon, pastor, texts):
    client = bearer(anon, pastor["access"])
    answers = [
        client.post(
            "/api/auth/phone", {"phone": PHONE, "password": PASSWORD}, format="json"
        )
        for _ in range(6)
    ]
    assert [a.status_code for a in answers[:5]] == [202] * 5
    assert answers[5].status_code == 429
    assert int(answers[5]["Retry-After"]) > 0


def test_with_a_linked_phone_a_reset_needs_the_texted_code(
    anon, pastor, texts, mailoutbox
):
    _link_phone(bearer(anon, pastor["access"]), texts)
    anon.credentials()
    _forgot(anon)
    token = link_token(last_email(mailoutbox, "pastor@grace.example"), "reset-password")
    alone = _reset(anon, token)
    assert alone.status_code == 400
    assert "sms_code" in alone.json()["fields"]
    sent = anon.post("/api/auth/password/reset/code", {"token": token}, format="json")
    assert sent.status_code == 202
    code = texted_code(texts, PHONE)
    assert _reset(anon, token, sms_code="000000").status_code == 400
    assert _reset(anon, token, sms_code=code).status_code == 204
    assert "reset" in texts[-1].body.lower()  # the phone is told too
    assert login(anon, password=NEW).status_code == 200


def _enable_mfa(client):
    setup = client.post(
        "/api/auth/mfa/setup", {"password": PASSWORD}, format="json"
    ).json()
    totp = pyotp.TOTP(setup["secret"])
    enabled = client.post("/api/auth/mfa/enable", {"code": totp.now()}, format="json")
    assert enabled.status_code == 200
    return totp, enabled.json()["recovery_codes"]


def test_enabling_mfa_shows_ten_recovery_codes_each_good_once(anon, pastor, mailoutbox):
    _, codes = _enable_mfa(bearer(anon, pastor["access"]))
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    anon.credentials()
    challenge = login(anon).json()["mfa_token"]
    typed = codes[0].upper().replace("-", "")  # case and dash do not matter
    ok = anon.post(
        "/api/auth/mfa/verify", {"mfa_token": challenge, "code": typed}, format="json"
    )
    assert ok.status_code == 200
    assert "recovery code" in last_email(mailoutbox, "pastor@grace.example").subject
    again = anon.post(
        "/api/auth/mfa/verify",
        {"mfa_token": login(anon).json()["mfa_token"], "code": codes[0]},
        format="json",
    )
    assert again.status_code == 401


def test_regenerating_recovery_codes_needs_the_password(anon, pastor):
    client = bearer(anon, pastor["access"])
    _, old = _enable_mfa(client)
    path = "/api/auth/mfa/recovery-codes"
    assert client.post(path, {}, format="json").status_code == 400
    assert client.post(path, {"password": "no"}, format="json").status_code == 400
    new = client.post(path, {"password": PASSWORD}, format="json").json()
    assert set(new["recovery_codes"]).isdisjoint(old)
    anon.credentials()
    stale = anon.post(
        "/api/auth/mfa/verify",
        {"mfa_token": login(anon).json()["mfa_token"], "code": old[1]},
        format="json",
    )
    assert stale.status_code == 401


def test_with_mfa_a_reset_needs_a_code_or_a_recovery_code(anon, pastor, mailoutbox):
    _, codes = _enable_mfa(bearer(anon, pastor["access"]))
    anon.credentials()
    _forgot(anon)
    token = link_token(last_email(mailoutbox, "pastor@grace.example"), "reset-password")
    assert "otp" in _reset(anon, token).json()["fields"]
    assert _reset(anon, token, otp=codes[3]).status_code == 204


def test_phone_linking_is_not_available_without_a_platform_number(
    anon, pastor, settings, texts
):
    settings.PLATFORM_SMS_FROM = ""
    client = bearer(anon, pastor["access"])
    answer = client.post(
        "/api/auth/phone", {"phone": PHONE, "password": PASSWORD}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "not_available"


@pytest.mark.parametrize(
    "failure",
    [smtplib.SMTPRecipientsRefused({"x": (550, b"no")}), ConnectionRefusedError()],
)
def test_an_email_that_cannot_go_out_is_logged_never_a_500(
    anon, pastor, monkeypatch, failure, caplog
):
    def refuse(*args, **kwargs):
        raise failure

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", refuse)
    assert _forgot(anon).status_code == 202
    assert "not sent" in caplog.text or "refused" in caplog.text
