"""Webhooks for a church that cannot take them now are kept and replayed in
order: the provider never sends an inbound message twice."""

from rest_framework.test import APIClient

from members.models import Member, Suppression
from messaging.backlog import replay_kept_webhooks_task
from messaging.models import Message
from tenants import holds
from tenants.context import tenant_context
from tenants.lookup import invalidate_tenant
from tenants.models import PendingWebhook, Tenant
from tests.messaging.fixtures import CHURCH_NUMBER, add_member, send
from tests.messaging.test_webhooks import STATUS, inbound

PHONE = "+14155550101"


def _status(tenant_id, status: str) -> None:
    Tenant.objects.filter(pk=tenant_id).update(status=status)
    invalidate_tenant(tenant_id)


def test_webhooks_during_maintenance_are_kept_then_replayed_in_order(church, outbox):
    add_member(church.client, PHONE, first_name="Ann")
    send(church.client, body="Service at 10", recipients={"all": True})
    with tenant_context(church.tenant):
        sid = Message.objects.get().provider_sid
    outbox.clear()
    _status(church.tenant.pk, "maintenance")

    hello = inbound(church.client, PHONE, "Hello", sid="SMhello")
    assert hello.status_code == 200
    assert b"<Message>" not in hello.content  # an empty answer: nothing to say yet
    assert inbound(church.client, PHONE, "Hello", sid="SMhello").status_code == 200
    assert inbound(church.client, PHONE, "STOP", sid="SMstop").status_code == 200
    receipt = {"MessageSid": sid, "MessageStatus": "delivered", "From": CHURCH_NUMBER}
    assert APIClient().post(STATUS, receipt).status_code == 204
    assert PendingWebhook.objects.filter(tenant=church.tenant).count() == 3
    with tenant_context(church.tenant):
        assert not Message.objects.filter(direction="inbound").exists()

    _status(church.tenant.pk, "active")
    assert replay_kept_webhooks_task() == 3

    assert not PendingWebhook.objects.exists()
    with tenant_context(church.tenant):
        received = list(
            Message.objects.filter(direction="inbound")
            .order_by("created_at")
            .values_list("body", flat=True)
        )
        assert received == ["Hello", "STOP"]
        assert Member.objects.get(phone=PHONE).opted_out is True
        assert Message.objects.get(provider_sid=sid).status == "delivered"
    # The STOP's confirmation could not ride on the provider's answer: it is sent.
    assert [m.to for m in outbox] == [PHONE]
    assert "unsubscribed" in outbox[0].body


def test_a_held_church_keeps_its_webhooks_and_takes_them_first_when_back(church):
    add_member(church.client, PHONE)
    holds.hold_tenant(church.tenant.pk, seconds=60)
    try:
        assert inbound(church.client, PHONE, "First", sid="SMfirst").status_code == 200
        assert PendingWebhook.objects.count() == 1
    finally:
        holds.release_tenant(church.tenant.pk)
    assert inbound(church.client, PHONE, "Second", sid="SMsecond").status_code == 200
    assert not PendingWebhook.objects.exists()
    with tenant_context(church.tenant):
        received = list(
            Message.objects.filter(direction="inbound")
            .order_by("created_at")
            .values_list("body", flat=True)
        )
    assert received == ["First", "Second"]


def test_a_deleting_church_gets_nothing_kept(church):
    _status(church.tenant.pk, "deleting")
    assert inbound(church.client, PHONE, "Anyone?").status_code == 404
    assert not PendingWebhook.objects.exists()


def test_a_kept_webhook_that_fails_on_its_own_is_set_aside_not_blocking(church):
    PendingWebhook.objects.create(
        tenant=church.tenant, kind="inbound", key="inbound:SMbroken",
        payload={"sid": "SMbroken"},  # nothing else: it cannot be applied
    )  # fmt: skip
    assert inbound(church.client, PHONE, "STOP", sid="SMlive").status_code == 200
    broken = PendingWebhook.objects.get(key="inbound:SMbroken")
    assert "KeyError" in broken.error
    with tenant_context(church.tenant):
        assert Suppression.objects.filter(phone=PHONE).exists()  # the STOP went in
        assert Message.objects.filter(provider_sid="SMlive").exists()
    assert replay_kept_webhooks_task() == 0  # set aside: not tried every round
