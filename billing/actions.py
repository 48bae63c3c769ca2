"""What the owner asks of billing, answered by the configured backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe
from django.conf import settings

from billing import stripe_backend
from billing.allowance import subscription_of
from billing.errors import PortalNotAvailable, StripeUnavailable
from billing.subscriptions import end_subscription, offered_plan, subscribe
from billing.summary import summary
from tenants.models import Tenant

LIVE = ("trialing", "active", "past_due", "unpaid")


@contextmanager
def _stripe_calls() -> Iterator[None]:
    """Stripe down, or refusing our configuration: a 503, never a 500."""
    try:
        yield
    except stripe.StripeError as exc:
        raise StripeUnavailable() from exc


def choose_plan(tenant: Tenant, code: str, *, by: str) -> dict[str, Any]:
    """`local`: the plan changes now, the new state is the answer. `stripe`:
    a Checkout session's `{url}` to subscribe, the portal's to change a plan
    Stripe already bills; the current plan again is answered with the state."""
    if settings.BILLING_BACKEND != "stripe":
        subscribe(tenant, code, by=by)
        return summary(tenant)
    plan = offered_plan(code)
    sub = subscription_of(tenant)
    with _stripe_calls():
        if sub.stripe_subscription_id and sub.status in LIVE:
            if sub.plan_id == plan.pk:
                return summary(tenant)
            return {"url": stripe_backend.portal_url(tenant)}
        return {"url": stripe_backend.checkout_url(tenant, plan.code)}


def portal(tenant: Tenant) -> dict[str, str]:
    if settings.BILLING_BACKEND != "stripe":
        raise PortalNotAvailable()
    with _stripe_calls():
        return {"url": stripe_backend.portal_url(tenant)}


def cancel_for_deletion(tenant: Tenant, *, by: str) -> None:
    """Stop billing a church being deleted: Stripe's subscription cancelled now
    (when Stripe bills it), then ours. Safe to repeat."""
    sub = subscription_of(tenant)
    if (
        settings.BILLING_BACKEND == "stripe"
        and sub.stripe_subscription_id
        and sub.status != "canceled"
    ):
        with _stripe_calls():
            stripe_backend.cancel_subscription(sub.stripe_subscription_id)
    end_subscription(tenant, by=by, note="church deleted")
