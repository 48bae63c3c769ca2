"""Changing a church's subscription, with the local backend's periods and invoices.

Every change of plan or state goes through `change_subscription`, which records who or
what made it. With `BILLING_BACKEND=local` there is no payment service:
subscribing switches the plan at once, `close_periods` (a beat task) writes
one invoice per church per period and moves unpaid churches along
`active -> past_due -> unpaid`, and operators mark invoices paid or void.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.allowance import credited, status_of, subscription_of
from billing.errors import TrialNotChosen, UnknownPlan
from billing.models import Invoice, Plan, SegmentCredit, StateChange, Subscription
from billing.periods import add_months, period_containing
from messaging.quota import sent_segments
from tenants.context import tenant_context
from tenants.models import Tenant

logger = logging.getLogger(__name__)
Status = Subscription.Status
OWING = (Status.PAST_DUE, Status.UNPAID)


def change_subscription(
    sub: Subscription, *, by: str, note: str = "", **fields: object
) -> None:
    """Save `fields` on the (locked) subscription and record the change."""
    before_status, before_plan = sub.status, sub.plan.code
    for name, value in fields.items():
        setattr(sub, name, value)
    sub.save()
    if (sub.status, sub.plan.code) != (before_status, before_plan) or note:
        StateChange.objects.create(
            tenant_id=sub.tenant_id, by=by[:200], note=note[:300],
            from_status=before_status, to_status=sub.status,
            from_plan=before_plan, to_plan=sub.plan.code,
        )  # fmt: skip


def locked_subscription(tenant: Tenant) -> Subscription:
    subscription_of(tenant)  # a church without one starts its trial first
    return (
        Subscription.objects.select_for_update()
        .select_related("plan")
        .get(tenant=tenant)
    )


def offered_plan(code: object) -> Plan:
    plan = Plan.objects.filter(code=str(code), active=True).first()
    if plan is None:
        raise UnknownPlan()
    if plan.is_trial:
        raise TrialNotChosen()
    return plan


def subscribe(tenant: Tenant, code: str, *, by: str) -> Subscription:
    """Put the church on a paid plan now. From a trial or a cancelled
    subscription a new period starts; between paid plans the period goes on
    and the new plan's included segments apply to all of it."""
    plan = offered_plan(code)
    now = timezone.now()
    with transaction.atomic():
        sub = locked_subscription(tenant)
        current = status_of(sub, now)
        if sub.plan_id == plan.pk and current not in ("trial_ended", Status.CANCELED):
            if sub.cancel_at_period_end:
                change_subscription(sub, by=by, note="cancellation withdrawn",
                        cancel_at_period_end=False)  # fmt: skip
            return sub
        fields: dict[str, Any] = {"plan": plan, "cancel_at_period_end": False}
        if current in (Status.TRIALING, "trial_ended", Status.CANCELED):
            fields |= {
                "status": Status.ACTIVE, "anchor": now, "period_start": now,
                "period_end": add_months(now, 1), "trial_ends_at": None,
            }  # fmt: skip
        change_subscription(sub, by=by, **fields)
    return sub


def cancel_at_period_end(tenant: Tenant, *, by: str) -> Subscription:
    with transaction.atomic():
        sub = locked_subscription(tenant)
        if not sub.plan.is_trial and sub.status != Status.CANCELED:
            change_subscription(sub, by=by, note="cancels at the period's end",
                    cancel_at_period_end=True)  # fmt: skip
    return sub


def end_subscription(tenant: Tenant, *, by: str, note: str) -> None:
    """Cancel now (the church is being deleted): no further period, no invoice."""
    with transaction.atomic():
        sub = locked_subscription(tenant)
        if sub.status != Status.CANCELED:
            change_subscription(sub, by=by, note=note, status=Status.CANCELED,
                    cancel_at_period_end=False)  # fmt: skip


def grant_credit(
    tenant: Tenant, segments: int, *, reason: str, user: User | None
) -> None:
    """One-off segments for the church's current period, with who and why."""
    sub = subscription_of(tenant)
    SegmentCredit.objects.create(
        tenant=tenant, period_start=sub.period_start, segments=segments,
        reason=reason, granted_by=user,
    )  # fmt: skip


# --- the local backend's periods and invoices -------------------------------------


def invoice_lines(plan: Plan, used: int, included: int) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = [
        {"description": f"{plan.name} plan", "quantity": 1,
         "unit_amount": plan.monthly_amount, "amount": plan.monthly_amount},
    ]  # fmt: skip
    over = max(0, used - included)
    if over and plan.overage_unit_amount is not None:
        unit = plan.overage_unit_amount
        lines.append({"description": f"Segments over {included}", "quantity": over,
                      "unit_amount": unit, "amount": over * unit})  # fmt: skip
    return lines


# A period is closed this long after it ends: sends in flight have their sent_at.
SETTLE = dt.timedelta(minutes=5)


def _close_one(sub: Subscription, now: dt.datetime) -> bool:
    """Invoice the subscription's ended period and start the next; False if
    there was none to close (another worker did it, or it is not due)."""
    if sub.period_end + SETTLE > now or sub.plan.is_trial:
        return False
    if sub.status == Status.CANCELED:
        return False
    with tenant_context(sub.tenant):
        used = sent_segments(sub.period_start, sub.period_end)
    lines = invoice_lines(sub.plan, used, sub.plan.included_segments + credited(sub))
    total = sum(int(line["amount"]) for line in lines)  # type: ignore[call-overload]
    Invoice.objects.create(
        tenant_id=sub.tenant_id,
        number=f"CT-{sub.tenant_id.hex.upper()}-{sub.period_start:%Y%m%d}",
        period_start=sub.period_start, period_end=sub.period_end,
        plan_code=sub.plan.code, lines=lines, subtotal=total, total=total,
        currency=sub.plan.currency,
        status=Invoice.Status.OPEN if total else Invoice.Status.PAID,
        due_at=sub.period_end + dt.timedelta(days=settings.BILLING_INVOICE_DUE_DAYS),
        paid_at=None if total else now,
    )  # fmt: skip
    if sub.cancel_at_period_end:
        change_subscription(sub, by="period end", status=Status.CANCELED)
        return True
    start, end = period_containing(sub.anchor, sub.period_end)
    change_subscription(sub, by="period end", period_start=start, period_end=end)
    return True


def close_periods(now: dt.datetime | None = None) -> int:
    """Invoice every ended period (exactly once each) and apply the local
    backend's dunning; the number of invoices written."""
    now = now or timezone.now()
    written = 0
    due = Subscription.objects.filter(
        period_end__lte=now - SETTLE, plan__trial_days__isnull=True
    ).exclude(status=Status.CANCELED)
    for sub_id in due.values_list("pk", flat=True):
        while True:
            try:
                with transaction.atomic():
                    sub = (
                        Subscription.objects.select_for_update()
                        .select_related("plan", "tenant")
                        .get(pk=sub_id)
                    )
                    if not _close_one(sub, now):
                        break
                written += 1
            except IntegrityError:
                # Another worker wrote this period's invoice first (the unique
                # period): it rolled the period too. Anything else is logged.
                logger.warning("closing %s: invoice exists", sub_id, exc_info=True)
                break
            except DatabaseError:
                # The church's database is unreachable: the next run retries.
                logger.exception("closing the billing period of %s failed", sub_id)
                break
    _dun(now)
    return written


def _dun(now: dt.datetime) -> None:
    """Open invoices past due make a church `past_due`; the grace days after
    that, `unpaid`."""
    overdue = Invoice.objects.filter(
        status=Invoice.Status.OPEN, due_at__lte=now
    ).values("tenant_id")
    grace = now - dt.timedelta(days=settings.BILLING_GRACE_DAYS)
    steps: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
        (Status.ACTIVE, {"tenant_id__in": overdue}, "invoice overdue",
         {"status": Status.PAST_DUE, "past_due_since": now}),
        (Status.PAST_DUE, {"past_due_since__lte": grace}, "grace period over",
         {"status": Status.UNPAID}),
    ]  # fmt: skip
    for status, condition, why, fields in steps:
        for sub in Subscription.objects.filter(status=status, **condition):
            with transaction.atomic():
                locked = locked_subscription(sub.tenant)
                if locked.status == status:  # not moved on by someone else
                    change_subscription(locked, by=why, **fields)


def settle_invoice(invoice: Invoice, status: str, *, by: str) -> None:
    """Mark a local invoice paid or void; a church owing nothing else is active."""
    now = timezone.now()
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.OPEN).update(
            status=status, paid_at=now if status == Invoice.Status.PAID else None
        )
        sub = locked_subscription(invoice.tenant)
        still_owing = Invoice.objects.filter(
            tenant_id=invoice.tenant_id, status=Invoice.Status.OPEN, due_at__lte=now
        ).exists()
        if sub.status in OWING and not still_owing:
            change_subscription(sub, by=by, note=f"invoice {invoice.number} {status}",
                    status=Status.ACTIVE, past_due_since=None)  # fmt: skip
