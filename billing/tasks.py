"""Billing's beat task: close ended periods (local invoices) and dun."""

from celery import shared_task

from billing.subscriptions import close_periods


@shared_task(name="billing.tasks.close_periods_task")
def close_periods_task() -> int:
    return close_periods()
