"""The browsable API's session: one church, checked like a token, CSRF enforced."""

import datetime as dt

import pyotp
import time_machine
from django.test import Client

from accounts.models import Membership, User
from tenants.models import Tenant
from tenants.services import suspend_tenant
from tests.accounts.conftest import PASSWORD, bearer
from tests.conftest import make_tenant


def sign_in(browser: Client, **fields):
    form = {"email": "pastor@grace.example", "password": PASSWORD, **fields}
    return browser.post("/api/browser/login", form)


def test_signing_in_lists_the_churchs_members_in_the_browsable_api(pastor):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/api/browser/login")
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    signed = browser.post(
        "/api/browser/login",
        {
            "email": "pastor@grace.example",
            "password": PASSWORD,
            "csrfmiddlewaretoken": token,
        },
    )
    assert signed.status_code == 302
    assert signed["Location"] == "/api/members"
    html = browser.get("/api/members", HTTP_ACCEPT="text/html")
    assert html.status_code == 200
    assert b"Member List" in html.content or b"Members" in html.content
    as_json = browser.get("/api/members", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200
    assert as_json.json()["count"] == 0


def test_unsafe_methods_need_the_csrf_token(pastor):
    browser = Client(enforce_csrf_checks=True)
    browser.get("/api/browser/login")
    token = browser.cookies["csrftoken"].value
    sign_in(browser, csrfmiddlewaretoken=token)
    body = {"first_name": "Ann", "phone": "+14155550101"}
    refused = browser.post("/api/members", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    accepted = browser.post(
        "/api/members",
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert accepted.status_code == 201, accepted.content


def test_a_wrong_password_signs_nobody_in(pastor):
    browser = Client()
    wrong = sign_in(browser, password="not it")
    assert wrong.status_code == 400
    assert b"Wrong email or password." in wrong.content
    assert browser.get("/api/members").status_code == 401


def test_with_mfa_on_the_code_is_required(pastor, anon):
    client = bearer(anon, pastor["access"])
    setup = client.post("/api/auth/mfa/setup", {"password": PASSWORD}, format="json")
    secret = setup.json()["secret"]
    enabled = client.post(
        "/api/auth/mfa/enable", {"code": pyotp.TOTP(secret).now()}, format="json"
    )
    assert enabled.status_code == 200
    browser = Client()
    without = sign_in(browser)
    assert without.status_code == 400
    assert browser.get("/api/members").status_code == 401
    # The next 30-second step: the code that enabled MFA cannot be used again.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    with time_machine.travel(later, tick=False):
        code = pyotp.TOTP(secret).now()
        assert sign_in(browser, code=code).status_code == 302
    assert browser.get("/api/members").status_code == 200


def test_the_session_holds_one_church_named_by_slug(pastor):
    other = make_tenant("Second Church")
    user = User.objects.get(email="pastor@grace.example")
    Membership.objects.create(user=user, tenant=other, role="admin")
    browser = Client()
    unnamed = sign_in(browser)
    assert unnamed.status_code == 400  # two churches: name one
    assert sign_in(browser, church=other.slug).status_code == 302
    me = browser.get("/api/tenant")
    assert me.json()["slug"] == other.slug
    mismatch = browser.get("/api/members", HTTP_X_TENANT_ID=pastor["tenant"]["id"])
    assert mismatch.status_code == 403
    assert mismatch.json()["code"] == "tenant_mismatch"


def test_signing_out_or_a_revocation_ends_the_session(pastor, anon):
    browser = Client()
    sign_in(browser)
    assert browser.get("/api/members").status_code == 200
    browser.post("/api/browser/logout")
    assert browser.get("/api/members").status_code == 401

    sign_in(browser)
    assert browser.get("/api/members").status_code == 200
    # The password changed through the API: every session of the account ends.
    changed = bearer(anon, pastor["access"]).post(
        "/api/auth/password",
        {"old_password": PASSWORD, "new_password": "another long passphrase"},
        format="json",
    )
    assert changed.status_code in (200, 204), changed.content
    gone = browser.get("/api/members")
    assert gone.status_code == 401
    assert gone.json()["code"] == "token_revoked"


def test_a_suspended_church_is_refused_to_its_session(pastor):
    browser = Client()
    sign_in(browser)
    suspend_tenant(tenant=Tenant.objects.get(pk=pastor["tenant"]["id"]))
    refused = browser.get("/api/members")
    assert refused.status_code == 403
    assert refused.json()["code"] == "tenant_suspended"
