"""What a church may send now: its plan, state and period, as messaging asks.

`allowance_for` is `settings.SENDING_ALLOWANCE`: messaging calls it for every
broadcast, recurring run and reply (and for `GET /api/billing`), so it reads
one registry row and the period's credits, and decides nothing else.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.errors import NumbersOverPlan
from billing.models import SegmentCredit, StateChange, Subscription
from billing.plans import TRIAL, shipped_plan
from messaging.quota import Allowance
from tenants.models import Tenant

# States in which new broadcasts, surveys and recurring runs are refused.
REFUSING = {"trial_ended", "unpaid", "canceled"}


def subscription_of(tenant: Tenant) -> Subscription:
    """The church's subscription; a church without one starts its trial now
    (churches from before billing, and any the registration signal missed)."""
    found = Subscription.objects.select_related("plan").filter(tenant=tenant).first()
    if found is not None:
        return found
    plan = shipped_plan(TRIAL)
    start = timezone.now()
    end = start + dt.timedelta(days=plan.trial_days or 30)
    try:
        with transaction.atomic():
            found = Subscription.objects.create(
                tenant=tenant,
                plan=plan,
                status=Subscription.Status.TRIALING,
                period_start=start,
                period_end=end,
                anchor=start,
                trial_ends_at=end,
            )
            StateChange.objects.create(
                tenant=tenant, to_status=found.status, to_plan=plan.code,
                by="registration",
            )  # fmt: skip
    except IntegrityError:  # a concurrent first question made it
        found = Subscription.objects.select_related("plan").get(tenant=tenant)
    return found


def start_trial(
    sender: object, instance: Tenant, created: bool, **kwargs: object
) -> None:
    """A new church starts its trial as it registers (post_save of its Tenant)."""
    if created and not kwargs.get("raw"):
        subscription_of(instance)


def limit_numbers(tenant: Tenant, holding: int, **_: object) -> None:
    """Refuse a sending number past the plan's `max_sending_numbers` (numbers
    already held stay when a church moves to a smaller plan)."""
    plan = subscription_of(tenant).plan
    if holding > plan.max_sending_numbers:
        raise NumbersOverPlan(plan.name, plan.max_sending_numbers)


def status_of(subscription: Subscription, now: dt.datetime | None = None) -> str:
    """The state as the API shows it: a trial past its end is `trial_ended`."""
    now = now or timezone.now()
    if (
        subscription.status == Subscription.Status.TRIALING
        and subscription.trial_ends_at is not None
        and subscription.trial_ends_at <= now
    ):
        return "trial_ended"
    return subscription.status


def credited(
    subscription: Subscription, period_start: dt.datetime | None = None
) -> int:
    """Credit segments granted for the subscription's period (or `period_start`'s)."""
    return (
        SegmentCredit.objects.filter(
            tenant_id=subscription.tenant_id,
            period_start=period_start or subscription.period_start,
        ).aggregate(n=Sum("segments"))["n"]
        or 0
    )


def allowance_for(
    tenant: Tenant, subscription: Subscription | None = None
) -> Allowance:
    subscription = subscription or subscription_of(tenant)
    plan = subscription.plan
    status = status_of(subscription)
    return Allowance(
        period_start=subscription.period_start,
        period_end=subscription.period_end,
        included=plan.included_segments + credited(subscription),
        overage=plan.overage_unit_amount is not None,
        refusal="payment_required" if status in REFUSING else None,
    )
