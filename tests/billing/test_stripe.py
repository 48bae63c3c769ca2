"""The Stripe backend against a local stand-in, through the official client."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from billing import metering
from billing.metering import report_usage
from billing.models import Invoice, MeterReport, Plan, StateChange, Subscription
from messaging.models import Message
from tenants.context import tenant_context
from tests.billing.test_quota import billing
from tests.fake_stripe import FakeStripe

WEBHOOK = "/api/webhooks/stripe"


@pytest.fixture
def fake_stripe(settings, registry):
    fake = FakeStripe().start()
    settings.BILLING_BACKEND = "stripe"
    settings.STRIPE_SECRET_KEY = fake.secret_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    Plan.objects.filter(code="starter").update(
        stripe_price_id="price_starter",
        stripe_metered_price_id="price_starter_over",
        stripe_meter_event_name="church_segments",
    )
    yield fake
    fake.stop()


def deliver(client, fake, kind, obj, *, signature=None):
    body, header = fake.event(kind, obj)
    headers = {"HTTP_STRIPE_SIGNATURE": signature if signature is not None else header}
    return client.post(WEBHOOK, body, content_type="application/json", **headers), body


def checkout(alice, fake) -> dict:
    """The owner subscribes and pays at Checkout; Stripe tells us."""
    answer = alice.client.post(
        "/api/billing/subscribe", {"plan": "starter"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    session_id = next(reversed(fake.sessions))
    assert answer.json() == {"url": fake.sessions[session_id]["url"]}
    remote = fake.subscribe(session_id)
    done, _ = deliver(alice.client, fake, "checkout.session.completed",
                      fake.sessions[session_id])  # fmt: skip
    assert done.status_code == 200, done.content
    return remote


def test_subscribing_opens_checkout_with_both_prices_and_one_customer(
    alice, fake_stripe
):
    for _ in range(2):
        alice.client.post("/api/billing/subscribe", {"plan": "starter"}, format="json")
    assert len(fake_stripe.customers) == 1
    session = next(iter(fake_stripe.sessions.values()))
    assert session["mode"] == "subscription"
    assert [i["price"] for i in session["line_items"].values()] == [
        "price_starter", "price_starter_over"
    ]  # fmt: skip
    # A customer id lost after Stripe made it: the idempotency key finds it again.
    Subscription.objects.filter(tenant=alice.tenant).update(stripe_customer_id="")
    alice.client.post("/api/billing/subscribe", {"plan": "starter"}, format="json")
    assert len(fake_stripe.customers) == 1


def test_a_completed_checkout_makes_the_church_active_on_stripes_period(
    alice, fake_stripe
):
    remote = checkout(alice, fake_stripe)
    state = billing(alice)
    assert (state["status"], state["plan"]["code"]) == ("active", "starter")
    start = remote["items"]["data"][0]["current_period_start"]
    assert dt.datetime.fromisoformat(state["period_start"]).timestamp() == start
    change = StateChange.objects.filter(tenant=alice.tenant).first()
    assert change.by.startswith("stripe evt_")
    again = alice.client.post(
        "/api/billing/subscribe", {"plan": "starter"}, format="json"
    )
    assert again.json()["status"] == "active"  # the current plan: no new Checkout
    other = alice.client.post(
        "/api/billing/subscribe", {"plan": "growth"}, format="json"
    )
    assert other.json() == {"url": f"{fake_stripe.url}/portal"}


@pytest.mark.parametrize(
    "signature",
    ["", "t=1,v1=00", "garbage", "wrong-secret", "too-old"],
)
def test_a_bad_or_missing_signature_is_a_400_and_changes_nothing(
    alice, fake_stripe, signature
):
    answer = alice.client.post(
        "/api/billing/subscribe", {"plan": "starter"}, format="json"
    )
    session = next(iter(fake_stripe.sessions.values()))
    fake_stripe.subscribe(session["id"])
    body, _ = fake_stripe.event("checkout.session.completed", session)
    if signature == "wrong-secret":
        signature = fake_stripe.sign(body, secret="whsec_other")
    elif signature == "too-old":
        signature = fake_stripe.sign(body, at=int(timezone.now().timestamp()) - 301)
    posted = alice.client.post(WEBHOOK, body, content_type="application/json",
                               HTTP_STRIPE_SIGNATURE=signature)  # fmt: skip
    assert answer.status_code == 200
    assert (posted.status_code, posted.json()["code"]) == (400, "invalid_signature")
    assert billing(alice)["status"] == "trialing"


def test_an_event_delivered_twice_is_handled_once(alice, fake_stripe):
    remote = checkout(alice, fake_stripe)
    body, header = fake_stripe.event("customer.subscription.updated", remote)
    before = StateChange.objects.count()
    remote["status"] = "past_due"
    for _ in range(2):
        answer = alice.client.post(WEBHOOK, body, content_type="application/json",
                                   HTTP_STRIPE_SIGNATURE=header)  # fmt: skip
        assert answer.status_code == 200
    assert StateChange.objects.count() == before + 1
    assert billing(alice)["status"] == "past_due"


def test_events_out_of_order_end_in_stripes_current_state(alice, fake_stripe):
    remote = checkout(alice, fake_stripe)
    stale = {**remote, "status": "active"}
    remote["status"] = "canceled"  # what Stripe has now
    deliver(alice.client, fake_stripe, "customer.subscription.deleted", remote)
    deliver(alice.client, fake_stripe, "customer.subscription.updated", stale)
    assert billing(alice)["status"] == "canceled"
    body = {"body": "x", "recipients": {"all": True}}
    refused = alice.client.post("/api/messages/send", body, format="json")
    assert refused.json()["code"] == "payment_required"


def test_invoices_are_mirrored_and_listing_them_never_calls_stripe(alice, fake_stripe):
    remote = checkout(alice, fake_stripe)
    invoice = fake_stripe.invoice(remote, status="paid", total=2909)
    answer, _ = deliver(alice.client, fake_stripe, "invoice.paid", invoice)
    assert answer.status_code == 200
    calls = len(fake_stripe.requests)
    listed = alice.client.get("/api/billing/invoices").json()
    assert len(fake_stripe.requests) == calls
    [shown] = listed["results"]
    assert (shown["number"], shown["total"], shown["status"]) == (
        "FAKE-1",
        2909,
        "paid",
    )
    assert shown["hosted_url"] == "https://invoice.example/1"
    assert shown["lines"][0]["amount"] == 2909


def test_an_event_for_no_church_is_acknowledged_and_ignored(alice, fake_stripe):
    ghost = {"id": "sub_ghost", "object": "subscription", "customer": "cus_nobody",
             "status": "active", "metadata": {"tenant_id": "not-a-uuid"}}  # fmt: skip
    answer, _ = deliver(
        alice.client, fake_stripe, "customer.subscription.updated", ghost
    )
    assert answer.status_code == 200
    unknown, _ = deliver(alice.client, fake_stripe, "product.created", {"id": "prod_1"})
    assert unknown.status_code == 200
    assert billing(alice)["status"] == "trialing"


def test_the_portal_and_a_stripe_outage(alice, fake_stripe):
    portal = alice.client.post("/api/billing/portal")
    assert portal.json() == {"url": f"{fake_stripe.url}/portal"}
    fake_stripe.stop()
    down = alice.client.post("/api/billing/portal")
    assert (down.status_code, down.json()["code"]) == (503, "service_unavailable")
    fake_stripe.start()


def _sent(tenant, when: dt.datetime, segments: int) -> None:
    with tenant_context(tenant):
        Message.objects.create(
            direction="outbound", status="sent", body="x", segments=segments,
            to_number="+14155550100", sent_at=when,
        )  # fmt: skip


def test_overage_reaches_the_meter_exactly_once_through_an_outage(
    alice, fake_stripe, monkeypatch
):
    Plan.objects.filter(code="starter").update(included_segments=2)
    now = dt.datetime.combine(timezone.now().date(), dt.time(12), dt.UTC)
    start = now - dt.timedelta(days=3)
    remote = checkout(alice, fake_stripe)
    remote["items"]["data"][0].update(
        current_period_start=int(start.timestamp()),
        current_period_end=int((start + dt.timedelta(days=30)).timestamp()),
    )
    deliver(alice.client, fake_stripe, "customer.subscription.updated", remote)
    midnight = dt.datetime.combine(start.date(), dt.time(), dt.UTC)
    for days, segments in [(0, 2), (1, 3), (2, 4), (3, 5)]:  # day 3: not over yet
        at = start if days == 0 else midnight + dt.timedelta(days=days)
        _sent(alice.tenant, at + dt.timedelta(minutes=1), segments)

    fake_stripe.stop()  # Stripe is down when the days are reported
    first = report_usage(now)
    assert (first["recorded"], first["sent"], first["failed"]) == (2, 0, 2)
    assert MeterReport.objects.filter(sent_at__isnull=True).count() == 2
    assert report_usage(now)["failed"] == 0  # waiting for its retry time
    fake_stripe.start()

    # Stripe takes the first report, then our process dies before noting it.
    real_update = metering.MeterReport.objects.filter
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        if "pk" in kwargs and calls["n"] == 0:
            calls["n"] += 1
            raise RuntimeError("killed")
        return real_update(*args, **kwargs)

    later = now + dt.timedelta(hours=2)
    monkeypatch.setattr(metering.MeterReport.objects, "filter", crash_once)
    with pytest.raises(RuntimeError):
        report_usage(later)
    monkeypatch.undo()
    final = report_usage(later)
    assert final["failed"] == 0
    assert report_usage(later + dt.timedelta(hours=1)) == {
        "recorded": 0,
        "sent": 0,
        "failed": 0,
    }
    events = fake_stripe.meter_events
    assert sorted(int(e["payload"]["value"]) for e in events.values()) == [3, 4]
    assert {e["payload"]["stripe_customer_id"] for e in events.values()} == {
        remote["customer"]
    }
    assert MeterReport.objects.filter(sent_at__isnull=True).count() == 0
    assert json.dumps(sorted(events)) == json.dumps(
        sorted(MeterReport.objects.values_list("identifier", flat=True))
    )


def test_local_invoices_are_not_written_with_stripe(alice, fake_stripe):
    from billing.tasks import close_periods_task

    checkout(alice, fake_stripe)
    assert close_periods_task() == 0
    assert Invoice.objects.count() == 0


def test_an_event_about_another_subscription_leaves_the_live_one(alice, fake_stripe):
    live = checkout(alice, fake_stripe)
    old = {**live, "id": "sub_old", "status": "canceled"}
    fake_stripe.subscriptions["sub_old"] = old
    deliver(alice.client, fake_stripe, "customer.subscription.deleted", old)
    assert billing(alice)["status"] == "active"
    sub = Subscription.objects.get(tenant=alice.tenant)
    assert sub.stripe_subscription_id == live["id"]


def test_a_credit_mid_period_lowers_what_is_reported_after_it(alice, fake_stripe):
    from billing.subscriptions import grant_credit

    Plan.objects.filter(code="starter").update(included_segments=2)
    now = dt.datetime.combine(timezone.now().date(), dt.time(12), dt.UTC)
    start = now - dt.timedelta(days=3)
    remote = checkout(alice, fake_stripe)
    remote["items"]["data"][0].update(
        current_period_start=int(start.timestamp()),
        current_period_end=int((start + dt.timedelta(days=30)).timestamp()),
    )
    deliver(alice.client, fake_stripe, "customer.subscription.updated", remote)
    midnight = dt.datetime.combine(start.date(), dt.time(), dt.UTC)
    _sent(alice.tenant, start + dt.timedelta(minutes=1), 5)  # 3 over
    _sent(alice.tenant, midnight + dt.timedelta(days=1, minutes=1), 3)
    first_day_over = midnight + dt.timedelta(days=1, hours=1)
    assert report_usage(first_day_over)["sent"] == 1
    grant_credit(alice.tenant, 10, reason="Easter", user=alice.user)
    assert report_usage(now)["recorded"] == 0  # 8 used of 12: nothing more owed
    assert [int(e["payload"]["value"]) for e in fake_stripe.meter_events.values()] == [
        3
    ]
