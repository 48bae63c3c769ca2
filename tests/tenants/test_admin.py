"""The operators' console: tenants and servers, with provisioning and actions.

Edits made here go through the same services as the API's: a membership
changed revokes its tokens, a number moves in the number map, a tenant saved
is seen at once; server passwords are stored encrypted and never shown.
"""

import importlib
import uuid
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.contrib.admin.utils import quote
from django.db import connection
from django.forms import MultiWidget

from accounts.models import Membership, User
from billing.models import Subscription
from church.numbers import numbers_of, tenant_for_number
from church.services import EDITABLE, update_church
from tenants.admin import TenantAdmin
from tenants.lookup import get_tenant
from tenants.models import DatabaseServer, Tenant, with_password
from tenants.provisioning import sync_configured_servers
from tenants.secrets import decrypt
from tenants.servers import backend_for
from tests.conftest import make_persona, make_tenant


def form_data(page) -> dict:
    """What a browser posts back from an admin change page, as it was shown."""
    forms = [page.context["adminform"].form]
    for inline in page.context.get("inline_admin_formsets", []):
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            widget = field.field.widget
            if isinstance(widget, MultiWidget):  # a date and a time, say
                shown = widget.get_context(field.html_name, value, {})["widget"]
                data.update({w["name"]: w["value"] or "" for w in shown["subwidgets"]})
            elif isinstance(value, bool):
                if value:
                    data[field.html_name] = "on"
            elif value is not None:
                data[field.html_name] = str(value)
    return data


def errors_of(page) -> str:
    """The errors a re-shown change page carries (its form's and its inlines')."""
    if not page.context:
        return ""
    found = [page.context["adminform"].form.errors]
    for inline in page.context.get("inline_admin_formsets", []):
        found += [inline.formset.non_form_errors(), *inline.formset.errors]
    return " ".join(str(errors) for errors in found if errors)


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
            "timezone": "America/Chicago",
            "country": "US",
            "server": "",
        },
    )
    assert response.status_code == 302, response.content[:500]
    tenant = Tenant.objects.get(slug="new-hope")
    assert tenant.status == Tenant.Status.ACTIVE
    assert Subscription.objects.get(tenant=tenant).plan.code == "trial"


def test_a_failed_provisioning_is_shown_on_the_form(operator):
    make_tenant("Taken", slug="taken")
    response = operator.post(
        "/admin/tenants/tenant/add/",
        {
            "name": "Other",
            "slug": "taken",
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


# --- edits through the services ---------------------------------------------


def test_a_membership_changed_in_the_console_revokes_its_tokens_there(
    operator, alice, tenant_b
):
    elsewhere = make_persona(tenant_b, role="staff", email=alice.user.email)
    assert alice.client.get("/api/members").status_code == 200
    url = f"/admin/accounts/user/{alice.user.pk}/change/"
    data = form_data(operator.get(url))
    (row,) = [
        key.removesuffix("-tenant")
        for key, value in data.items()
        if key.endswith("-tenant") and value == str(alice.tenant.pk)
    ]
    data[f"{row}-role"] = "admin"

    response = operator.post(url, data)
    assert response.status_code == 302, errors_of(response)
    assert Membership.objects.get(user=alice.user, tenant=alice.tenant).role == "admin"
    assert alice.client.get("/api/members").status_code == 401
    assert elsewhere.client.get("/api/members").status_code == 200  # other church


def test_a_membership_removed_in_the_console_revokes_its_tokens(operator, alice):
    url = f"/admin/accounts/user/{alice.user.pk}/change/"
    data = form_data(operator.get(url))
    data["memberships-0-DELETE"] = "on"
    response = operator.post(url, data)
    assert response.status_code == 302, errors_of(response)
    assert not Membership.objects.filter(user=alice.user).exists()
    assert alice.client.get("/api/members").status_code == 401


def test_a_number_added_in_the_console_enters_the_number_map(
    operator, tenant_a, tenant_b
):
    add = "/admin/church/sendingnumber/add/"
    response = operator.post(
        add, {"number": "+1 415 555 0100", "tenant": str(tenant_a.pk)}
    )
    assert response.status_code == 302, errors_of(response)
    assert tenant_for_number("+14155550100") == tenant_a
    tenant_a.refresh_from_db()
    assert tenant_a.phone_number == "+14155550100"  # the church's own number

    clash = operator.post(add, {"number": "+14155550100", "tenant": str(tenant_b.pk)})
    assert clash.status_code == 200
    assert errors_of(clash)
    assert tenant_for_number("+14155550100") == tenant_a

    branch = uuid.uuid4()
    response = operator.post(
        add,
        {"number": "+14155550111", "tenant": str(tenant_b.pk), "branch_id": branch},
    )
    assert response.status_code == 302, errors_of(response)
    assert numbers_of(tenant_b) == (None, {branch: "+14155550111"})

    # tenant_b's trial includes one number, which its branch now holds.
    over = operator.post(add, {"number": "+14155550112", "tenant": str(tenant_b.pk)})
    assert over.status_code == 200
    assert "1 sending number" in errors_of(over)
    assert tenant_for_number("+14155550112") is None

    delete = f"/admin/church/sendingnumber/{quote('+14155550100')}/delete/"
    assert operator.post(delete, {"post": "yes"}).status_code == 302
    assert tenant_for_number("+14155550100") is None
    tenant_a.refresh_from_db()
    assert tenant_a.phone_number is None


def test_a_number_changed_in_a_tenants_settings_moves_in_the_map(
    operator, tenant_a, tenant_b
):
    update_church(tenant=tenant_a, phone_number="+14155550101")
    update_church(tenant=tenant_b, phone_number="+14155550199")
    url = f"/admin/tenants/tenant/{tenant_a.pk}/change/"
    data = form_data(operator.get(url))
    data["phone_number"] = "(415) 555-0102"

    response = operator.post(url, data)
    assert response.status_code == 302, errors_of(response)
    assert tenant_for_number("+14155550102") == tenant_a
    assert tenant_for_number("+14155550101") is None
    tenant_a.refresh_from_db()
    assert tenant_a.phone_number == "+14155550102"

    data["phone_number"] = "+14155550199"
    clash = operator.post(url, data)
    assert clash.status_code == 200
    assert "already in use" in errors_of(clash)
    assert tenant_for_number("+14155550199") == tenant_b
    tenant_a.refresh_from_db()
    assert tenant_a.phone_number == "+14155550102"


def test_a_tenant_saved_in_the_console_is_seen_at_once(operator, tenant_a):
    assert get_tenant(tenant_a.pk).slug == "grace-chapel"  # now cached
    url = f"/admin/tenants/tenant/{tenant_a.pk}/change/"
    data = form_data(operator.get(url))
    data["slug"] = "grace-east"
    response = operator.post(url, data)
    assert response.status_code == 302, errors_of(response)
    assert get_tenant(tenant_a.pk).slug == "grace-east"

    data["name"] = "Grace Chapel East"
    response = operator.post(url, data)
    assert response.status_code == 302, errors_of(response)
    assert get_tenant(tenant_a.pk).name == "Grace Chapel East"

    operator.post(
        "/admin/tenants/tenant/",
        {"action": "suspend", "_selected_action": [str(tenant_a.pk)]},
    )
    assert get_tenant(tenant_a.pk).status == Tenant.Status.SUSPENDED


def test_the_tenant_admin_knows_every_church_setting():
    assert set(TenantAdmin.church_settings) == set(EDITABLE)


def test_church_settings_are_checked_like_the_api_checks_them(operator, tenant_a):
    url = f"/admin/tenants/tenant/{tenant_a.pk}/change/"
    data = form_data(operator.get(url))
    data["timezone"] = "Mars/Olympus_Mons"
    response = operator.post(url, data)
    assert response.status_code == 200
    assert "IANA" in errors_of(response)
    tenant_a.refresh_from_db()
    assert tenant_a.timezone == "America/New_York"


# --- server credentials -----------------------------------------------------

SECRET = "s3cret-Server-pw"
# Nothing listens there: the teardown's look at each server fails at once.
SPARE = f"postgres://ops:{SECRET}@127.0.0.1:1/postgres"


def test_a_server_password_is_stored_encrypted_and_never_shown(operator):
    add = "/admin/tenants/databaseserver/add/"
    response = operator.post(add, {"name": "spare", "url": SPARE, "capacity": "10"})
    assert response.status_code == 302, errors_of(response)
    server = DatabaseServer.objects.get(name="spare")
    assert server.url == "postgres://ops@127.0.0.1:1/postgres"
    assert SECRET not in server.password
    assert decrypt(server.password) == SECRET
    assert backend_for(server).password == SECRET  # what it connects with

    change = f"/admin/tenants/databaseserver/{server.pk}/change/"
    for page in (operator.get("/admin/tenants/databaseserver/"), operator.get(change)):
        assert page.status_code == 200
        assert SECRET.encode() not in page.content
        assert server.password.encode() not in page.content

    data = form_data(operator.get(change))
    data["new_password"] = "another-Secret-2"
    assert operator.post(change, data).status_code == 302
    server.refresh_from_db()
    assert decrypt(server.password) == "another-Secret-2"
    assert b"another-Secret-2" not in operator.get(change).content

    # A form shown again with an error does not echo a password typed in the URL.
    again = operator.post(add, {"name": "spare", "url": SPARE + "x", "capacity": "1"})
    assert again.status_code == 200
    assert errors_of(again)
    assert SECRET.encode() not in again.content


def test_configured_servers_are_matched_by_their_url_without_password(
    registry, settings
):
    bare = "postgres://ops@127.0.0.1:1"
    settings.TENANT_DB_SERVERS = ["postgres://ops:first-pw@127.0.0.1:1"]
    sync_configured_servers()
    server = DatabaseServer.objects.get()
    assert server.url == bare
    assert "first-pw" not in server.password
    assert decrypt(server.password) == "first-pw"

    settings.TENANT_DB_SERVERS = ["postgres://ops:second-pw@127.0.0.1:1"]
    sync_configured_servers()
    server = DatabaseServer.objects.get()
    assert decrypt(server.password) == "second-pw"

    settings.TENANT_DB_SERVERS = [bare]  # no password given: the stored one stays
    sync_configured_servers()
    assert decrypt(DatabaseServer.objects.get().password) == "second-pw"


def test_the_migration_moves_passwords_out_of_server_urls(registry):
    migration = importlib.import_module(
        "tenants.migrations.0003_server_password_encrypted"
    )
    DatabaseServer.objects.create(name="old", url=SPARE)
    DatabaseServer.objects.create(name="plain", url="sqlite:///var/elsewhere")
    migration.move_passwords_out_of_urls(
        django_apps, SimpleNamespace(connection=connection)
    )
    old = DatabaseServer.objects.get(name="old")
    assert old.url == "postgres://ops@127.0.0.1:1/postgres"
    assert decrypt(old.password) == SECRET
    plain = DatabaseServer.objects.get(name="plain")
    assert (plain.url, plain.password) == ("sqlite:///var/elsewhere", "")


@pytest.mark.postgres
def test_provisioning_connects_with_the_decrypted_password(registry, settings):
    configured = django_settings.TENANT_DB_SERVERS[0]
    settings.TENANT_DB_SERVERS = [with_password(configured, "server-Pass-9")]
    tenant = make_tenant("Password Chapel")
    server = tenant.server
    assert server.url == configured
    assert "server-Pass-9" not in server.password
    assert backend_for(server).password == "server-Pass-9"
    assert backend_for(server).database_exists(tenant.database_name)
    assert make_persona(tenant).client.get("/api/members").status_code == 200
