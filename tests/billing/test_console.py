"""Billing in the operators' console: plans, subscriptions, invoices, credits."""

import pytest

from accounts.models import User
from billing.models import Invoice, Plan, SegmentCredit, StateChange, Subscription
from billing.subscriptions import SETTLE, close_periods
from tests.billing.test_quota import billing


@pytest.fixture
def operator(registry, client):
    user = User.objects.create_superuser("ops@example.org", "operator passphrase 1")
    client.login(email="ops@example.org", password="operator passphrase 1")
    client.user = user
    return client


def test_the_billing_pages_render(operator, alice):
    billing(alice)  # the trial starts
    sub = Subscription.objects.get(tenant=alice.tenant)
    for url in (
        "/admin/billing/plan/",
        "/admin/billing/subscription/",
        f"/admin/billing/subscription/{sub.pk}/change/",
        "/admin/billing/invoice/",
        "/admin/billing/segmentcredit/",
        "/admin/billing/statechange/",
    ):
        page = operator.get(url)
        assert page.status_code == 200, url
    detail = operator.get(f"/admin/billing/subscription/{sub.pk}/change/").content
    assert b"0 / 200" in detail  # usage against quota
    assert b"registration" in detail  # the state history


def test_an_operator_marks_an_invoice_paid_and_the_church_is_active_again(
    operator, alice
):
    alice.client.post("/api/billing/subscribe", {"plan": "starter"}, format="json")
    sub = Subscription.objects.get(tenant=alice.tenant)
    close_periods(sub.period_end + SETTLE)
    invoice = Invoice.objects.get()
    Subscription.objects.filter(pk=sub.pk).update(status="unpaid")
    answer = operator.post(
        "/admin/billing/invoice/",
        {"action": "mark_paid", "_selected_action": [str(invoice.pk)]},
    )
    assert answer.status_code == 302
    assert Invoice.objects.get().status == "paid"
    assert Subscription.objects.get(pk=sub.pk).status == "active"
    change = StateChange.objects.filter(tenant=alice.tenant).first()
    assert (change.to_status, change.by) == ("active", "operator ops@example.org")


def test_a_credit_records_who_and_why_and_adds_to_the_period(operator, alice):
    billing(alice)
    answer = operator.post(
        "/admin/billing/segmentcredit/add/",
        {"tenant": str(alice.tenant.pk), "segments": "300", "reason": "Easter"},
    )
    assert answer.status_code == 302, answer.content[:2000]
    credit = SegmentCredit.objects.get()
    assert (credit.granted_by, credit.reason) == (operator.user, "Easter")
    assert billing(alice)["remaining_segments"] == 500


def test_an_operator_edit_of_the_state_is_recorded(operator, alice):
    billing(alice)
    sub = Subscription.objects.get(tenant=alice.tenant)
    url = f"/admin/billing/subscription/{sub.pk}/change/"
    form = {
        "plan": str(Plan.objects.get(code="starter").pk),
        "period_start_0": sub.period_start.strftime("%Y-%m-%d"),
        "period_start_1": sub.period_start.strftime("%H:%M:%S"),
        "period_end_0": sub.period_end.strftime("%Y-%m-%d"),
        "period_end_1": sub.period_end.strftime("%H:%M:%S"),
        "anchor_0": sub.anchor.strftime("%Y-%m-%d"),
        "anchor_1": sub.anchor.strftime("%H:%M:%S"),
        "trial_ends_at_0": sub.trial_ends_at.strftime("%Y-%m-%d"),
        "trial_ends_at_1": sub.trial_ends_at.strftime("%H:%M:%S"),
    }
    answer = operator.post(url, form)
    assert answer.status_code == 302, answer.content[:3000]
    change = StateChange.objects.filter(tenant=alice.tenant).first()
    assert (change.from_plan, change.to_plan) == ("trial", "starter")
    assert change.by == "operator ops@example.org"
    assert change.note == "edited in the console"
