"""The admin, the API docs and the browsable API, driven in a real Chromium.

Playwright for Python drives the system's Chromium (the Debian package; its
own browser download is not used). Each step leaves a screenshot in the
test's temporary directory. Without Chromium the tests fail under
REQUIRE_SERVICES (CI) and are skipped otherwise.
"""

from __future__ import annotations

import os
import shutil

import pyotp
import pytest

from accounts.models import User
from members.models import Member
from tenants.context import tenant_context
from tenants.models import Tenant
from tenants.secrets import encrypt
from tests.accounts.conftest import PASSWORD
from tests.conftest import service_missing

OPERATOR_PASSWORD = "operator passphrase 1"


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        service_missing("Chromium (Debian package chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with Chromium

    # Playwright's sync API keeps an event loop in this thread; the test's own
    # ORM calls between browser steps are synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=path, args=["--no-sandbox"]
            )
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(chromium, tmp_path):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)  # a busy CI machine, not a target
    shots = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=tmp_path / f"{next(shots):02}-{name}.png", full_page=True)

    page.shot = shot
    yield page
    context.close()
    assert list(tmp_path.glob("*.png")), "each step leaves a screenshot"


def test_an_operator_with_mfa_suspends_resumes_and_reads_usage(
    page, live_server, alice
):
    secret = pyotp.random_base32()
    User.objects.create_superuser(
        "ops@example.org",
        OPERATOR_PASSWORD,
        mfa_secret=encrypt(secret),
        mfa_enabled=True,
    )
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "ops@example.org")
    page.fill("#id_password", OPERATOR_PASSWORD)
    page.fill("#id_code", pyotp.TOTP(secret).now())
    page.shot("admin-login")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.shot("admin-home")

    page.goto(f"{live_server.url}/admin/tenants/tenant/")
    row = page.locator("#result_list tr", has_text=alice.tenant.name)
    assert row.count() == 1
    page.shot("tenants")
    for action, status in (("suspend", "suspended"), ("resume", "active")):
        row.locator("input.action-select").check()
        page.select_option("select[name=action]", action)
        page.click("button[name=index]")
        page.wait_for_selector(".messagelist")
        page.shot(action)
        assert Tenant.objects.get(pk=alice.tenant.pk).status == status

    page.goto(f"{live_server.url}/admin/billing/subscription/")
    page.click(f"#result_list a:has-text('{alice.tenant.slug}')")
    usage = page.locator(".field-usage")
    usage.wait_for()
    page.shot("usage")
    assert "/" in usage.inner_text()  # "used / included"


def test_the_api_docs_render_and_call_an_endpoint_with_a_token(
    page, live_server, alice
):
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 20
    page.shot("docs")
    page.click("button.authorize")
    page.fill(".auth-container input[type=text]", alice.access)
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    members = page.locator(".opblock-get", has_text="/api/members/").first
    members.locator(".opblock-summary").click()
    members.locator("button.try-out__btn").click()
    members.locator("button.execute").click()
    status = members.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    page.shot("docs-called")
    assert status.inner_text().strip().startswith("200")

    page.goto(f"{live_server.url}/api/redoc")
    page.wait_for_selector("[data-section-id]")
    page.shot("redoc")


def test_the_browsable_api_lists_members_after_signing_in(page, live_server, alice):
    with tenant_context(alice.tenant):
        Member.objects.create(first_name="Abigail", phone="+14155550123")
    page.goto(f"{live_server.url}/api/members")
    page.shot("not-signed-in")
    page.click("a:has-text('Log in')")
    page.fill("#id_email", alice.user.email)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_church", alice.tenant.slug)
    page.shot("sign-in")
    page.click("#submit-id-submit")
    page.wait_for_url("**/api/members")
    page.shot("members")
    assert "Abigail" in page.content()
    assert "+14155550123" in page.content()
    # The browsable API's own form posts with the session's CSRF token.
    form = page.locator("#post-object-form")
    form.locator("input[name=first_name]").fill("Boaz")
    form.locator("input[name=phone]").fill("(415) 555-0124")
    form.locator("button:has-text('POST')").click()
    page.wait_for_selector("text=HTTP 201 Created")
    page.shot("member-created")
    with tenant_context(alice.tenant):
        assert Member.objects.filter(first_name="Boaz", phone="+14155550124").exists()
