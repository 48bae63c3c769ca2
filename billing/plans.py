"""The plans as shipped (migration 0004 writes the same); operators edit them."""

from __future__ import annotations

from billing.models import Plan

TRIAL = "trial"
SHIPPED: dict[str, dict[str, object]] = {
    "trial": {"name": "Trial", "monthly_amount": 0, "included_segments": 200,
              "overage_unit_amount": None, "trial_days": 30, "max_sending_numbers": 1},
    "starter": {"name": "Starter", "monthly_amount": 2900, "included_segments": 2000,
                "overage_unit_amount": 3, "max_sending_numbers": 5},
    "growth": {"name": "Growth", "monthly_amount": 7900, "included_segments": 10000,
               "overage_unit_amount": 2, "max_sending_numbers": 5},
}  # fmt: skip


def shipped_plan(code: str) -> Plan:
    """The plan `code`, made as shipped if an operator (or a test) removed it."""
    plan, _ = Plan.objects.get_or_create(
        code=code, defaults={"currency": "usd", **SHIPPED[code]}
    )
    return plan


def ensure_plans() -> None:
    for code in SHIPPED:
        shipped_plan(code)
