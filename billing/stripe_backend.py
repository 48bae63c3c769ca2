"""Billing through Stripe: customers, Checkout, the portal, webhooks, metering.

The official client (`stripe.StripeClient`) does every call; `STRIPE_API_BASE`
only points it at a stand-in in tests. Nothing here trusts the order in which
webhooks arrive: a subscription or invoice event makes us fetch the object's
current state from Stripe and copy that.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.fields import parse_uuid
from billing.allowance import subscription_of
from billing.models import Invoice, Plan, StripeEvent, Subscription
from billing.subscriptions import change_subscription, locked_subscription, offered_plan
from tenants.models import Tenant

logger = logging.getLogger(__name__)
Status = Subscription.Status
# Stripe's subscription statuses as ours; `incomplete` keeps what we had.
STATUSES = {
    "trialing": Status.TRIALING, "active": Status.ACTIVE,
    "past_due": Status.PAST_DUE, "unpaid": Status.UNPAID,
    "canceled": Status.CANCELED, "incomplete_expired": Status.CANCELED,
    "paused": Status.CANCELED,
}  # fmt: skip
INVOICE_EVENTS = {"invoice.finalized", "invoice.paid", "invoice.payment_failed"}
SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
}


@cache
def _client(key: str, base: str) -> stripe.StripeClient:
    addresses: Any = {"api": base} if base else None
    return stripe.StripeClient(key, base_addresses=addresses, max_network_retries=2)


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


def _stamp(seconds: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds else None


def ensure_customer(tenant: Tenant) -> str:
    """The church's Stripe customer, created once (the tenant id is the
    idempotency key, so a retry or a race creates no second one)."""
    sub = subscription_of(tenant)
    if sub.stripe_customer_id:
        return sub.stripe_customer_id
    customer = client().v1.customers.create(
        params={"name": tenant.name, "metadata": {"tenant_id": str(tenant.id)}},
        options={"idempotency_key": f"customer-{tenant.id}"},
    )
    Subscription.objects.filter(pk=sub.pk).update(stripe_customer_id=customer.id)
    return customer.id


def checkout_url(tenant: Tenant, code: str) -> str:
    """A Checkout session for `code`: the base price, and the metered one."""
    plan = offered_plan(code)
    items: list[dict[str, Any]] = [{"price": plan.stripe_price_id, "quantity": 1}]
    if plan.overage_unit_amount is not None and plan.stripe_metered_price_id:
        items.append({"price": plan.stripe_metered_price_id})
    back = settings.PUBLIC_APP_URL.rstrip("/")
    metadata = {"tenant_id": str(tenant.id), "plan": plan.code}
    params: Any = {
        "mode": "subscription",
        "customer": ensure_customer(tenant),
        "line_items": items,
        "client_reference_id": str(tenant.id),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
        "success_url": f"{back}/billing?checkout=done",
        "cancel_url": f"{back}/billing?checkout=canceled",
    }
    session = client().v1.checkout.sessions.create(params=params)
    return str(session.url)


def portal_url(tenant: Tenant) -> str:
    back = settings.PUBLIC_APP_URL.rstrip("/")
    session = client().v1.billing_portal.sessions.create(
        params={"customer": ensure_customer(tenant), "return_url": f"{back}/billing"}
    )
    return str(session.url)


# --- webhooks ---------------------------------------------------------------------


def handle_event(event: Any) -> None:
    """Apply one verified event, once. The event's row and what it did commit
    together: if fetching from Stripe fails, Stripe's next delivery retries."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(event_id=event.id, type=event.type)
        except IntegrityError:
            return  # delivered again: already handled
        _apply(event)
        StripeEvent.objects.filter(event_id=event.id).update(
            processed_at=timezone.now()
        )


def _apply(event: Any) -> None:
    obj, by = event.data.object.to_dict(), f"stripe {event.id}"
    if event.type == "checkout.session.completed":
        tenant = _tenant_of(obj.get("client_reference_id"), obj.get("customer"))
        if tenant is not None and obj.get("subscription"):
            _sync_subscription(tenant, obj["subscription"], by=by)
    elif event.type in SUBSCRIPTION_EVENTS:
        metadata = obj.get("metadata") or {}
        tenant = _tenant_of(metadata.get("tenant_id"), obj.get("customer"))
        if tenant is not None:
            _sync_subscription(tenant, obj["id"], by=by)
    elif event.type in INVOICE_EVENTS:
        tenant = _tenant_of(None, obj.get("customer"))
        if tenant is not None:
            _mirror_invoice(tenant, obj["id"])
            if obj.get("subscription"):
                _sync_subscription(tenant, obj["subscription"], by=by)


def _tenant_of(tenant_id: str | None, customer: str | None) -> Tenant | None:
    found = None
    if customer:
        sub = Subscription.objects.filter(stripe_customer_id=customer).first()
        found = sub.tenant if sub else None
    key = parse_uuid(tenant_id)
    if found is None and key is not None:
        found = Tenant.objects.filter(pk=key).first()
    if found is None or found.status == Tenant.Status.DELETING:
        logger.warning("stripe webhook for no live church (customer %s)", customer)
        return None
    return found


def _sync_subscription(tenant: Tenant, stripe_id: str, *, by: str) -> None:
    """Copy the subscription as Stripe has it now (not as the event said).

    The church's row is locked before Stripe is asked, so two events handled
    at once copy in turn, the later fetch last. An event about another of the
    customer's subscriptions (an old one, a second Checkout) is ignored while
    the church's own is live.
    """
    with transaction.atomic():
        sub = locked_subscription(tenant)
        theirs = sub.stripe_subscription_id
        if theirs and theirs != stripe_id and sub.status != Status.CANCELED:
            logger.info(
                "stripe subscription %s is not %s's; ignored", stripe_id, tenant
            )
            return
        remote = client().v1.subscriptions.retrieve(stripe_id).to_dict()
        items = remote["items"]["data"] if remote.get("items") else []
        prices = {item["price"]["id"] for item in items}
        plan = Plan.objects.filter(stripe_price_id__in=prices).first()
        first = items[0] if items else {}
        # Newer API versions keep the period on the items, older ones on the object.
        start = _stamp(
            first.get("current_period_start") or remote.get("current_period_start")
        )
        end = _stamp(
            first.get("current_period_end") or remote.get("current_period_end")
        )
        fields: dict[str, Any] = {
            "stripe_subscription_id": stripe_id,
            "stripe_customer_id": remote.get("customer") or sub.stripe_customer_id,
            "cancel_at_period_end": bool(remote.get("cancel_at_period_end")),
        }
        if remote["status"] in STATUSES:  # `incomplete`: not paid, nothing changes
            fields |= {"status": STATUSES[remote["status"]], "trial_ends_at": None}
            if plan is not None:
                fields["plan"] = plan
            if start and end:
                fields |= {"period_start": start, "period_end": end, "anchor": start}
                if sub.period_start != start and theirs:
                    # The period rolled: its last day is still to be metered.
                    fields |= {"last_period_start": sub.period_start,
                               "last_period_end": sub.period_end}  # fmt: skip
        change_subscription(sub, by=by, **fields)


def cancel_subscription(stripe_id: str) -> None:
    """Cancel at once; one Stripe already cancelled is not an error."""
    try:
        client().v1.subscriptions.cancel(stripe_id)
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "code", "") != "resource_missing" and "canceled" not in str(
            exc
        ):
            raise


def _mirror_invoice(tenant: Tenant, stripe_id: str) -> None:
    """Copy the invoice as Stripe has it now, so listing never calls Stripe."""
    remote = client().v1.invoices.retrieve(stripe_id).to_dict()
    lines = [
        {
            "description": line.get("description") or "",
            "quantity": line.get("quantity") or 0,
            "unit_amount": _unit_amount(line),
            "amount": line.get("amount") or 0,
        }
        for line in (remote.get("lines") or {}).get("data", [])
    ]
    mirrored = Invoice.objects.filter(stripe_invoice_id=stripe_id).first()
    if mirrored is not None and mirrored.tenant_id != tenant.pk:
        logger.warning("stripe invoice %s belongs to another church", stripe_id)
        return
    Invoice.objects.update_or_create(
        stripe_invoice_id=stripe_id,
        defaults={
            "tenant": tenant,
            "number": remote.get("number") or stripe_id,
            "period_start": _stamp(remote.get("period_start")) or timezone.now(),
            "period_end": _stamp(remote.get("period_end")) or timezone.now(),
            "lines": lines,
            "subtotal": remote.get("subtotal") or 0,
            "total": remote.get("total") or 0,
            "currency": remote.get("currency") or "usd",
            "status": remote.get("status") or Invoice.Status.DRAFT,
            "due_at": _stamp(remote.get("due_date")),
            "paid_at": timezone.now() if remote.get("status") == "paid" else None,
            "hosted_url": remote.get("hosted_invoice_url") or "",
            "pdf_url": remote.get("invoice_pdf") or "",
        },
    )


def _unit_amount(line: Any) -> int:
    price = line.get("price") or (line.get("pricing") or {}).get("price_details") or {}
    unit = price.get("unit_amount") if isinstance(price, dict) else None
    if unit is None and line.get("quantity"):
        unit = (line.get("amount") or 0) // line["quantity"]
    return int(unit or 0)
