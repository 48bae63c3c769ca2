"""The church's billing as `GET /api/billing` shows it: from counters only."""

from __future__ import annotations

from typing import Any

from billing.allowance import allowance_for, status_of, subscription_of
from messaging.quota import reading
from tenants.models import Tenant


def summary(tenant: Tenant) -> dict[str, Any]:
    """Plan, state, period and segments (inside the church's tenant context)."""
    sub = subscription_of(tenant)
    plan, limits = sub.plan, allowance_for(tenant, sub)
    meter = reading(limits)
    used, reserved, included = meter.used, meter.reserved, limits.included
    unit = plan.overage_unit_amount or 0
    return {
        "plan": plan,
        "status": status_of(sub),
        "period_start": sub.period_start,
        "period_end": sub.period_end,
        "used_segments": used,
        "reserved_segments": reserved,
        "remaining_segments": max(0, included - used - reserved),
        "overage_segments": max(0, used - included),
        "projected_amount": plan.monthly_amount
        + max(0, used + reserved - included) * unit,
        "trial_ends_at": sub.trial_ends_at,
        "cancel_at_period_end": sub.cancel_at_period_end,
    }
