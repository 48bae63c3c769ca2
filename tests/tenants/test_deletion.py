"""A church's deletion: `deleting` at once, restorable for the grace period, then
purged to a tombstone; the admin's delete button takes the same road."""

import datetime as dt

import pyotp
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import LoginSession, Membership
from api.errors import Conflict
from billing.models import Subscription
from church.numbers import tenant_for_number
from church.services import delete_church
from members.models import Member
from tenants.context import tenant_context
from tenants.lifecycle import purge_due
from tenants.models import PendingWebhook, Tenant
from tenants.servers import backend_for
from tests.billing.test_stripe import checkout, fake_stripe  # noqa: F401
from tests.conftest import make_persona, make_tenant
from tests.messaging.fixtures import CHURCH_NUMBER, add_member
from tests.messaging.test_webhooks import inbound
from tests.tenants.test_admin import operator  # noqa: F401

PASSWORD = "correct horse battery staple"


def _delete(persona, **body):
    body = {"confirm": persona.tenant.slug, "password": PASSWORD, **body}
    return persona.client.delete("/api/tenant", body, format="json")


def _past_grace(tenant) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(
        purge_after=timezone.now() - dt.timedelta(seconds=1)
    )


def test_deleting_refuses_the_church_at_once_and_leaves_the_others(church, bob):
    add_member(church.client, "+14155550101")
    answer = _delete(church)
    assert answer.status_code == 202, answer.content
    purge_after = dt.datetime.fromisoformat(answer.json()["purge_after"])
    assert answer.json()["status"] == "deleting"
    assert purge_after - timezone.now() > dt.timedelta(days=29)
    assert church.client.get("/api/members").status_code == 401
    assert not LoginSession.objects.filter(
        tenant=church.tenant, revoked_at=None
    ).exists()
    login = church.client.post(
        "/api/auth/login",
        {
            "email": church.user.email,
            "password": PASSWORD,
            "tenant": church.tenant.slug,
        },
        format="json",
    )
    assert login.status_code in (400, 401, 403)
    assert inbound(church.client, "+14155550101", "hello?").status_code == 404
    assert bob.client.get("/api/members").status_code == 200
    # Nothing is gone yet: the reconciler keeps a church in its grace period.
    call_command("reconcile_tenants", "--older-than", "0")
    tenant = Tenant.objects.get(pk=church.tenant.pk)
    assert backend_for(tenant.server).database_exists(tenant.database_name)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"confirm": "someone-else"}, "confirm"),
        ({"confirm": ""}, "confirm"),
        ({"password": "wrong"}, "password"),
        ({"password": ""}, "password"),
        ({"password": None}, "password"),
        ({"password": "", "code": "123456"}, "code"),
        ({"confirm": ["x"]}, "confirm"),
    ],
)
def test_a_wrong_confirmation_or_reauthentication_deletes_nothing(alice, body, field):
    answer = _delete(alice, **body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "validation_error"
    assert field in answer.json()["fields"]
    assert Tenant.objects.get(pk=alice.tenant.pk).status == "active"
    assert alice.client.get("/api/members").status_code == 200


def test_only_an_owner_deletes(alice):
    admin = make_persona(alice.tenant, role="admin")
    assert _delete(admin).status_code == 403
    assert Tenant.objects.get(pk=alice.tenant.pk).status == "active"


def test_an_owner_with_mfa_may_confirm_with_a_code(alice):
    secret = alice.client.post(
        "/api/auth/mfa/setup", {"password": PASSWORD}, format="json"
    ).json()["secret"]
    enabled = alice.client.post(
        "/api/auth/mfa/enable", {"code": pyotp.TOTP(secret).now()}, format="json"
    )
    assert enabled.status_code == 200, enabled.content
    codes = enabled.json()["recovery_codes"]
    answer = _delete(alice, password="", code=codes[0])
    assert answer.status_code == 202, answer.content


def test_restoring_within_the_grace_period_brings_everything_back(church):
    add_member(church.client, "+14155550101", first_name="Kept")
    _delete(church)
    call_command("restore_tenant", church.tenant.slug)
    tenant = Tenant.objects.get(pk=church.tenant.pk)
    assert (tenant.status, tenant.purge_after) == ("active", None)
    again = make_persona(tenant)
    assert again.client.get("/api/members").json()["results"][0]["first_name"] == "Kept"
    assert tenant_for_number(CHURCH_NUMBER) == tenant  # its number kept


def test_after_the_grace_period_it_is_purged_to_a_tombstone(church):
    tenant = church.tenant
    _delete(church)
    _past_grace(tenant)
    with pytest.raises(CommandError, match="grace period"):
        call_command("restore_tenant", tenant.slug)
    purged, errors = purge_due()
    assert (purged, errors) == ([tenant.slug], [])
    tombstone = Tenant.objects.get(pk=tenant.pk)
    assert tombstone.status == "deleted"
    assert tombstone.name == ""
    assert tombstone.slug == tenant.id.hex
    assert not backend_for(tenant.server).database_exists(tenant.database_name)
    assert not Membership.objects.filter(tenant=tenant).exists()
    assert Subscription.objects.get(tenant=tenant).status == "canceled"
    assert tenant_for_number(CHURCH_NUMBER) is None  # free for another church
    # The slug and the number may be taken again.
    reborn = make_tenant(tenant.name)
    assert reborn.slug == tenant.slug
    assert purge_due() == ([], [])  # nothing twice


def test_the_stripe_subscription_is_cancelled_at_the_deletion(alice, fake_stripe):  # noqa: F811
    remote = checkout(alice, fake_stripe)
    assert _delete(alice).status_code == 202
    assert ("DELETE", f"/v1/subscriptions/{remote['id']}") in fake_stripe.requests
    assert Subscription.objects.get(tenant=alice.tenant).status == "canceled"


def test_the_admin_delete_button_starts_the_same_deletion(operator, alice):  # noqa: F811
    tenant = alice.tenant
    page = operator.post(f"/admin/tenants/tenant/{tenant.pk}/delete/", {"post": "yes"})
    assert page.status_code == 302
    tenant.refresh_from_db()
    assert tenant.status == "deleting"
    call_command("reconcile_tenants", "--older-than", "0")
    assert backend_for(tenant.server).database_exists(tenant.database_name)
    with tenant_context(tenant):
        assert Member.objects.count() == 0  # the database still opens
    restore = operator.post(
        "/admin/tenants/tenant/",
        {"action": "restore", "_selected_action": [str(tenant.pk)]},
    )
    assert restore.status_code == 302
    tenant.refresh_from_db()
    assert tenant.status == "active"


def test_delete_tenant_command_purges_now_when_asked(registry):
    tenant = make_tenant("Short Lived")
    call_command("delete_tenant", tenant.slug)
    assert Tenant.objects.get(pk=tenant.pk).status == "deleting"
    call_command("delete_tenant", tenant.slug, "--now")
    assert Tenant.objects.get(pk=tenant.pk).status == "deleted"
    with pytest.raises(CommandError):
        call_command("delete_tenant", "no-such-church")


def test_a_second_deletion_at_once_is_a_conflict_not_an_error(alice):
    tenant = Tenant.objects.get(pk=alice.tenant.pk)
    delete_church(
        tenant=tenant, user=alice.user, confirm=tenant.slug, password=PASSWORD
    )
    with pytest.raises(Conflict):
        delete_church(
            tenant=tenant, user=alice.user, confirm=tenant.slug, password=PASSWORD
        )


def test_a_purge_removes_webhooks_kept_for_the_church(alice):
    PendingWebhook.objects.create(
        tenant=alice.tenant, kind="inbound", key="inbound:SMkept",
        payload={"sid": "SMkept", "from_": "+14155550101", "body": "private"},
    )  # fmt: skip
    call_command("delete_tenant", alice.tenant.slug, "--now")
    assert not PendingWebhook.objects.exists()
