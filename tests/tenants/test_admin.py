"""The operators' console: tenants and servers, with provisioning and actions."""

import pytest

from accounts.models import User
from tenants.models import Tenant
from tests.conftest import make_tenant


@pytest.fixture
def operator(registry, client):
    User.objects.create_superuser("ops@example.org", "operator passphrase 1")
    client.login(email="ops@example.org", password="operator passphrase 1")
    return client


def test_the_tenant_and_server_lists_render(operator):
    make_tenant("Grace Chapel")
    page = operator.get("/admin/tenants/tenant/")
    assert page.status_code == 200
    assert b"grace-chapel" in page.content
    assert operator.get("/admin/tenants/databaseserver/").status_code == 200
    tenant = Tenant.objects.get()
    detail = operator.get(f"/admin/tenants/tenant/{tenant.pk}/change/")
    assert detail.status_code == 200
    assert b"database_password" not in detail.content


def test_adding_a_tenant_provisions_it(operator):
    response = operator.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "New Hope",
            "slug": "",
            "plan": "starter",
            "timezone": "America/Chicago",
            "country": "US",
            "server": "",
        },
    )
    assert response.status_code == 302, response.content[:500]
    tenant = Tenant.objects.get(slug="new-hope")
    assert tenant.status == Tenant.Status.ACTIVE


def test_a_failed_provisioning_is_shown_on_the_form(operator):
    make_tenant("Taken", slug="taken")
    response = operator.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Other",
            "slug": "taken",
            "plan": "starter",
            "timezone": "America/Chicago",
            "country": "US",
            "server": "",
        },
    )
    assert response.status_code == 200
    assert b"is taken" in response.content
    assert Tenant.objects.count() == 1


def test_suspend_resume_and_migrate_actions(operator):
    tenant = make_tenant("Acted On")
    url = "/admin/tenants/tenant/"
    for action, status in (
        ("suspend", "suspended"),
        ("resume", "active"),
        ("migrate", "active"),
    ):
        response = operator.post(
            url, {"action": action, "_selected_action": [str(tenant.pk)]}
        )
        assert response.status_code == 302
        tenant.refresh_from_db()
        assert tenant.status == status


def test_only_staff_reach_the_admin(registry, client):
    assert client.get("/admin/tenants/tenant/").status_code == 302  # to login
