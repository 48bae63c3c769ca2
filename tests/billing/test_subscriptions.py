"""Plans, states and the local backend's periods, invoices and dunning."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.models import Invoice, Plan, StateChange, Subscription
from billing.subscriptions import SETTLE, close_periods, settle_invoice
from tests.billing.test_quota import PHONES, billing, included, members
from tests.concurrency import run_together
from tests.conftest import make_persona
from tests.messaging.fixtures import add_member, send
from tests.messaging.test_webhooks import inbound


def subscribe(persona, plan):
    return persona.client.post("/api/billing/subscribe", {"plan": plan}, format="json")


def history(tenant) -> list[tuple[str, str]]:
    rows = StateChange.objects.filter(tenant=tenant).order_by("at", "id")
    return [(c.from_status, c.to_status) for c in rows]


def test_plans_lists_the_paid_plans_with_integer_amounts(alice):
    plans = alice.client.get("/api/billing/plans").json()
    assert [
        (p["code"], p["monthly_amount"], p["overage_unit_amount"]) for p in plans
    ] == [
        ("starter", 2900, 3),
        ("growth", 7900, 2),
    ]


@pytest.mark.parametrize("plan", ["platinum", "trial", "", None, 7, ["starter"]])
def test_subscribing_to_an_unknown_plan_or_the_trial_is_a_400(alice, plan):
    answer = subscribe(alice, plan)
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert "plan" in answer.json()["fields"]
    assert billing(alice)["plan"]["code"] == "trial"


def test_only_the_owner_changes_billing_and_staff_do_not_read_it(tenant_a):
    admin = make_persona(tenant_a, role="admin")
    staff = make_persona(tenant_a, role="staff")
    assert admin.client.get("/api/billing").status_code == 200
    assert staff.client.get("/api/billing").status_code == 403
    assert subscribe(admin, "starter").status_code == 403
    assert admin.client.post("/api/billing/portal").status_code == 403


def test_subscribing_starts_a_paid_period_and_again_is_a_no_op(alice):
    first = subscribe(alice, "starter")
    assert first.status_code == 200
    state = first.json()
    assert (state["status"], state["plan"]["code"]) == ("active", "starter")
    assert state["trial_ends_at"] is None
    again = subscribe(alice, "starter").json()
    assert again["period_start"] == state["period_start"]
    moved = subscribe(alice, "growth").json()  # between paid plans: same period
    assert moved["period_start"] == state["period_start"]
    assert moved["plan"]["included_segments"] == 10000
    assert history(alice.tenant) == [("", "trialing"), ("trialing", "active"),
                                     ("active", "active")]  # fmt: skip


def test_the_local_backend_has_no_portal_and_no_stripe_webhook(alice):
    portal = alice.client.post("/api/billing/portal")
    assert (portal.status_code, portal.json()["code"]) == (409, "not_available")
    assert alice.client.post("/api/webhooks/stripe", {}).status_code == 404


def test_a_trial_that_ended_refuses_broadcasts_but_not_replies_or_stop(church, outbox):
    add_member(church.client, PHONES[0])
    add_member(church.client, PHONES[1])
    inbound(church.client, PHONES[0], "Hello?")
    billing(church)  # the trial starts
    ended = timezone.now() - dt.timedelta(minutes=1)
    Subscription.objects.filter(tenant=church.tenant).update(trial_ends_at=ended)
    assert billing(church)["status"] == "trial_ended"
    refused = send(church.client, body="Hi", recipients={"all": True})
    assert (refused.status_code, refused.json()["code"]) == (402, "payment_required")
    body = {
        "body": "Daily", "recipients": {"all": True},
        "schedule": {"frequency": "daily", "time": "09:00", "timezone": "UTC"},
    }  # fmt: skip
    recurring = church.client.post("/api/messages/recurring", body, format="json")
    assert (recurring.status_code, recurring.json()["code"]) == (
        402,
        "payment_required",
    )
    thread = church.client.get("/api/messages/conversations").json()["results"][0]
    reply = church.client.post(
        f"/api/messages/conversations/{thread['id']}/reply",
        {"body": "We will call you"}, format="json",
    )  # fmt: skip
    assert reply.status_code == 201
    assert inbound(church.client, PHONES[0], "STOP").status_code == 200
    assert church.client.get("/api/members").status_code == 200
    assert billing(church)["used_segments"] == 2  # the reply, the confirmation
    assert subscribe(church, "starter").status_code == 200
    again = send(church.client, body="Back", recipients={"all": True})
    assert (again.status_code, again.json()["recipient_count"]) == (202, 1)


def test_a_period_end_writes_one_invoice_with_the_overage(church, outbox):
    included("starter", 2, overage=3)
    subscribe(church, "starter")
    members(church, 5)
    send(church.client, body="Hi", recipients={"all": True})
    sub = Subscription.objects.get(tenant=church.tenant)
    end = sub.period_end
    assert close_periods(end + SETTLE - dt.timedelta(seconds=1)) == 0
    assert close_periods(end + SETTLE) == 1
    assert close_periods(end + SETTLE) == 0  # twice: still one
    invoice = Invoice.objects.get()
    assert invoice.lines == [
        {"description": "Starter plan", "quantity": 1, "unit_amount": 2900,
         "amount": 2900},
        {"description": "Segments over 2", "quantity": 3, "unit_amount": 3,
         "amount": 9},
    ]  # fmt: skip
    assert (invoice.total, invoice.currency, invoice.status) == (2909, "usd", "open")
    assert (invoice.period_start, invoice.period_end) == (sub.period_start, end)
    sub.refresh_from_db()
    assert sub.period_start == end
    assert sub.period_end > end
    shown = church.client.get("/api/billing/invoices").json()
    assert shown["count"] == 1
    assert shown["results"][0]["total"] == 2909
    one = church.client.get(f"/api/billing/invoices/{invoice.id}").json()
    assert one["lines"][1]["quantity"] == 3


def test_another_churchs_invoice_is_not_found(alice, bob):
    subscribe(bob, "growth")
    close_periods(Subscription.objects.get(tenant=bob.tenant).period_end + SETTLE)
    theirs = Invoice.objects.get(tenant=bob.tenant)
    for path in (f"/api/billing/invoices/{theirs.id}", "/api/billing/invoices/nope"):
        assert alice.client.get(path).status_code == 404
    assert alice.client.get("/api/billing/invoices").json()["count"] == 0


@pytest.mark.postgres
def test_two_workers_closing_the_same_period_write_one_invoice(alice):
    subscribe(alice, "growth")
    end = Subscription.objects.get(tenant=alice.tenant).period_end
    written = run_together(2, lambda: close_periods(end + SETTLE))
    assert sorted(written) == [0, 1]
    assert Invoice.objects.filter(tenant=alice.tenant).count() == 1


def test_an_unpaid_invoice_leads_to_past_due_then_unpaid_and_payment_restores(
    church, outbox, settings
):
    add_member(church.client, PHONES[0])
    subscribe(church, "starter")
    sub = Subscription.objects.get(tenant=church.tenant)
    close_periods(sub.period_end + SETTLE)
    invoice = Invoice.objects.get()
    due = invoice.due_at
    close_periods(due + dt.timedelta(minutes=1))
    assert Subscription.objects.get(pk=sub.pk).status == "past_due"
    # past_due: the grace period, sending goes on
    assert send(church.client, body="Hi", recipients={"all": True}).status_code == 202
    grace = due + dt.timedelta(days=settings.BILLING_GRACE_DAYS, minutes=2)
    close_periods(grace)
    assert Subscription.objects.get(pk=sub.pk).status == "unpaid"
    refused = send(church.client, body="Hi", recipients={"all": True})
    assert refused.json()["code"] == "payment_required"
    settle_invoice(invoice, Invoice.Status.PAID, by="operator test")
    assert Subscription.objects.get(pk=sub.pk).status == "active"
    assert Invoice.objects.get().status == "paid"
    assert history(church.tenant)[-3:] == [
        ("active", "past_due"),
        ("past_due", "unpaid"),
        ("unpaid", "active"),
    ]


def test_a_cancelled_subscription_ends_at_its_period_end(alice):
    from billing.subscriptions import cancel_at_period_end

    subscribe(alice, "starter")
    cancel_at_period_end(alice.tenant, by="test")
    end = Subscription.objects.get(tenant=alice.tenant).period_end
    close_periods(end + SETTLE)
    assert Subscription.objects.get(tenant=alice.tenant).status == "canceled"
    assert Invoice.objects.count() == 1
    assert close_periods(end + dt.timedelta(days=40)) == 0


def test_a_credit_adds_to_this_periods_included_segments(alice):
    from billing.subscriptions import grant_credit

    grant_credit(alice.tenant, 50, reason="Easter", user=alice.user)
    assert billing(alice)["remaining_segments"] == 250


def test_usage_by_day_in_the_churchs_zone_and_bad_ranges(church, outbox):
    members(church, 2)
    send(church.client, body="Hi", recipients={"all": True})
    today = timezone.localdate(timezone=__import__("zoneinfo").ZoneInfo(
        church.tenant.timezone))  # fmt: skip
    days = church.client.get("/api/billing/usage").json()
    assert days == [{"date": today.isoformat(), "messages": 2, "segments": 2}]
    ranged = church.client.get(
        "/api/billing/usage", {"since": today.isoformat(), "until": today.isoformat()}
    )
    assert ranged.json() == days
    for query, field in [
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ({"since": "2024-01-01", "until": "2026-01-01"}, "until"),
        ({"since": "2026-01-01"}, "until"),
        ({"since": "yesterday", "until": "2026-01-01"}, "since"),
        ({"since": "2026-01-01\x00", "until": "2026-01-02"}, "since"),
    ]:
        answer = church.client.get("/api/billing/usage", query)
        assert answer.status_code == 400, query
        assert field in answer.json()["fields"], answer.json()


def test_plans_are_amounts_in_minor_units(alice):
    for plan in Plan.objects.all():
        assert isinstance(plan.monthly_amount, int)


@pytest.mark.parametrize(
    "query",
    [
        {"since": "9999-12-01", "until": "9999-12-31"},
        {"since": "0001-01-01", "until": "0001-01-02"},
    ],
)
def test_usage_at_the_ends_of_the_calendar_is_a_400(alice, query):
    answer = alice.client.get("/api/billing/usage", query)
    assert answer.status_code == 400
    assert "since" in answer.json()["fields"]
