"""Attacks on accounts: another church's password, lockouts, a stolen token."""

import pyotp

from accounts.models import Membership, User
from tests.accounts.conftest import link_token
from tests.conftest import make_persona

HOLDER = "pastor@grace.example"
HOLDERS_OWN = "the holder's own passphrase 9"


def test_another_church_cannot_choose_an_accounts_password(
    alice, bob, anon, mailoutbox
):
    """B adds A's future admin with a password B knows; then A adds the same email.

    Before: B's password logged into A as admin. Now nobody sets another
    person's password, and the invitation link goes to the mailbox's holder.
    """
    planted = bob.client.post(
        "/api/users",
        {"email": HOLDER, "role": "staff", "password": "chosen by church b 1"},
        format="json",
    )
    assert planted.status_code == 405
    assert not User.objects.filter(email=HOLDER).exists()
    bob.client.post(
        "/api/users/invitations", {"email": HOLDER, "role": "staff"}, format="json"
    )
    alice.client.post(
        "/api/users/invitations", {"email": HOLDER, "role": "admin"}, format="json"
    )
    assert not User.objects.filter(email=HOLDER).exists()  # nothing until accepted
    # Only the mailbox's holder has A's link, and chooses the password.
    links = [link_token(m, "accept-invitation") for m in mailoutbox if HOLDER in m.to]
    from_a = links[-1]
    accepted = anon.post(
        "/api/auth/invitations/accept",
        {"token": from_a, "password": HOLDERS_OWN},
        format="json",
    )
    assert accepted.status_code == 200
    login = anon.post(
        "/api/auth/login",
        {
            "email": HOLDER,
            "password": "chosen by church b 1",
            "tenant": alice.tenant.slug,
        },
        format="json",
    )
    assert login.status_code == 401
    assert Membership.objects.filter(user__email=HOLDER).count() == 1


def test_a_churchs_answers_never_show_another_churchs_account(alice, bob):
    answer = alice.client.post(
        "/api/users/invitations", {"email": bob.user.email}, format="json"
    ).json()
    assert bob.user.first_name not in str(answer)
    assert "mfa" not in str(answer)


def _login(client, email, password, address, proxy="10.0.0.1"):
    return client.post(
        "/api/auth/login",
        {"email": email, "password": password},
        format="json",
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=address,
    )


def test_successful_logins_behind_a_proxy_lock_nobody_out(alice, anon, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    settings.RATE_LIMITS = "login=3/15m"
    people = [make_persona(alice.tenant, role="staff") for _ in range(6)]
    for index, person in enumerate(people):
        answer = _login(
            anon,
            person.user.email,
            "correct horse battery staple",
            f"198.51.100.{index}",
        )
        assert answer.status_code == 200


def test_failed_logins_lock_out_their_own_client_only(alice, anon, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    settings.RATE_LIMITS = "login=3/15m"
    other = make_persona(alice.tenant, role="staff")
    for _ in range(3):
        assert _login(anon, "x@y.example", "wrong!", "203.0.113.9").status_code == 401
    assert _login(anon, "x@y.example", "wrong!", "203.0.113.9").status_code == 429
    # A forged entry left of the proxy's own does not change who the client is.
    spoofed = _login(anon, "z@y.example", "wrong!", "1.2.3.4, 203.0.113.9")
    assert spoofed.status_code == 429
    fine = _login(
        anon, other.user.email, "correct horse battery staple", "203.0.113.10"
    )
    assert fine.status_code == 200


def test_a_stolen_access_token_cannot_enrol_mfa(alice):
    thief = alice.client
    answer = thief.post("/api/auth/mfa/setup", {}, format="json")
    assert answer.status_code == 400
    assert "password" in answer.json()["fields"]
    wrong = thief.post("/api/auth/mfa/setup", {"password": "guess"}, format="json")
    assert wrong.status_code == 400
    alice.user.refresh_from_db()
    assert not alice.user.mfa_secret


def test_an_mfa_step_dies_with_the_password_it_proved(alice, anon):
    setup = alice.client.post(
        "/api/auth/mfa/setup",
        {"password": "correct horse battery staple"},
        format="json",
    ).json()
    totp = pyotp.TOTP(setup["secret"])
    alice.client.post("/api/auth/mfa/enable", {"code": totp.now()}, format="json")
    stolen = anon.post(
        "/api/auth/login",
        {"email": alice.user.email, "password": "correct horse battery staple"},
        format="json",
    ).json()["mfa_token"]
    changed = alice.client.post(
        "/api/auth/password",
        {
            "old_password": "correct horse battery staple",
            "new_password": "a different long passphrase",
        },
        format="json",
    )
    assert changed.status_code == 204
    answer = anon.post(
        "/api/auth/mfa/verify", {"mfa_token": stolen, "code": "000000"}, format="json"
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_token"


def test_reset_links_reach_only_the_holder(alice, anon, mailoutbox):
    anon.post("/api/auth/password/forgot", {"email": alice.user.email}, format="json")
    # The persona's address was never proven and it did not sign up itself.
    assert not [m for m in mailoutbox if alice.user.email in m.to]


def test_successful_logins_from_one_address_never_count(alice, anon, settings):
    settings.RATE_LIMITS = "login=3/15m"
    for _ in range(6):
        answer = anon.post(
            "/api/auth/login",
            {"email": alice.user.email, "password": "correct horse battery staple"},
            format="json",
        )
        assert answer.status_code == 200
