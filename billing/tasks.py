"""Billing's beat tasks: each does its backend's part and nothing with the other."""

from celery import shared_task
from django.conf import settings

from billing.metering import report_usage
from billing.subscriptions import close_periods


@shared_task(name="billing.tasks.close_periods_task")
def close_periods_task() -> int:
    """Local backend: invoice ended periods, move unpaid churches along."""
    return close_periods() if settings.BILLING_BACKEND == "local" else 0


@shared_task(name="billing.tasks.report_usage_task")
def report_usage_task() -> dict[str, int]:
    """Stripe backend: overage to the meter, exactly once."""
    return report_usage() if settings.BILLING_BACKEND == "stripe" else {}
