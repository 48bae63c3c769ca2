import datetime as dt

from django.db import migrations
from django.utils import timezone

PLANS = [
    # code, name, monthly amount, included segments, overage per segment, trial days
    ("trial", "Trial", 0, 200, None, 30),
    ("starter", "Starter", 2900, 2000, 3, None),
    ("growth", "Growth", 7900, 10000, 2, None),
]


def ship_plans(apps, schema_editor):
    """The plans as shipped; operators change them in the admin afterwards."""
    plan = apps.get_model("billing", "Plan")
    for code, name, amount, included, overage, trial_days in PLANS:
        plan.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "monthly_amount": amount,
                "currency": "usd",
                "included_segments": included,
                "overage_unit_amount": overage,
                "trial_days": trial_days,
                "max_sending_numbers": 1 if code == "trial" else 5,
            },
        )


def start_trials(apps, schema_editor):
    """Churches that existed before billing start a full trial today."""
    tenant = apps.get_model("tenants", "Tenant")
    subscription = apps.get_model("billing", "Subscription")
    change = apps.get_model("billing", "StateChange")
    trial = apps.get_model("billing", "Plan").objects.get(code="trial")
    now = timezone.now()
    end = now + dt.timedelta(days=trial.trial_days)
    for found in tenant.objects.exclude(subscription__isnull=False):
        subscription.objects.create(
            tenant=found, plan=trial, status="trialing", period_start=now,
            period_end=end, anchor=now, trial_ends_at=end,
        )  # fmt: skip
        change.objects.create(
            tenant=found, to_status="trialing", to_plan="trial", by="billing introduced"
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_plans_subscriptions_invoices")]

    operations = [
        migrations.RunPython(ship_plans, migrations.RunPython.noop),
        migrations.RunPython(start_trials, migrations.RunPython.noop),
    ]
