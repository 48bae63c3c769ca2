"""Billing in the registry: plans, each church's subscription and its history,
invoices, segment credits, and the daily usage copied for operators.

Amounts are integers in the currency's minor units (cents), never floats.
`UsageRollup` kept the table name it had in the `tenants` app (`db_table`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenants.models import Tenant


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    monthly_amount = models.PositiveIntegerField(help_text="minor units (cents)")
    currency = models.CharField(max_length=3, default="usd")
    included_segments = models.PositiveIntegerField()
    overage_unit_amount = models.PositiveIntegerField(
        null=True, blank=True, help_text="minor units per segment; empty: hard stop"
    )
    trial_days = models.PositiveSmallIntegerField(null=True, blank=True)
    max_sending_numbers = models.PositiveSmallIntegerField(default=1)
    active = models.BooleanField(default=True, help_text="offered to new churches")
    stripe_price_id = models.CharField(max_length=100, blank=True, default="")
    stripe_metered_price_id = models.CharField(max_length=100, blank=True, default="")
    stripe_meter_event_name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["monthly_amount", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[a-z]{3}$"), name="plan_currency_iso"
            )
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_trial(self) -> bool:
        return self.trial_days is not None


class Subscription(models.Model):
    """A church's plan, state and current period (one per church)."""

    class Status(models.TextChoices):
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        UNPAID = "unpaid"
        CANCELED = "canceled"

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="subscription"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    # The calendar anchor of the periods: each ends a whole month after it.
    anchor = models.DateTimeField()
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(null=True, blank=True)
    # The period before this one (Stripe): its last day is metered after it ends.
    last_period_start = models.DateTimeField(null=True, blank=True)
    last_period_end = models.DateTimeField(null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True, default="")
    stripe_subscription_id = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["period_end"])]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.plan_id} {self.status}"


class StateChange(models.Model):
    """Every change of a church's plan or state: who or what, when, from, to."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="billing_changes"
    )
    at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=12, blank=True, default="")
    to_status = models.CharField(max_length=12)
    from_plan = models.CharField(max_length=32, blank=True, default="")
    to_plan = models.CharField(max_length=32, blank=True, default="")
    by = models.CharField(max_length=200, help_text="a user, an event, or a task")
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAID = "paid"
        VOID = "void"
        UNCOLLECTIBLE = "uncollectible"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="invoices"
    )
    number = models.CharField(max_length=64, unique=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    plan_code = models.CharField(max_length=32, blank=True, default="")
    lines = models.JSONField(
        default=list
    )  # [{description, quantity, unit_amount, amount}]
    subtotal = models.PositiveIntegerField()
    total = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=13, choices=Status.choices)
    due_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    hosted_url = models.URLField(max_length=500, blank=True, default="")
    pdf_url = models.URLField(max_length=500, blank=True, default="")
    stripe_invoice_id = models.CharField(
        max_length=64, null=True, blank=True, unique=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            # Closing a period twice, or from two workers, writes one invoice.
            models.UniqueConstraint(
                fields=["tenant", "period_start"],
                condition=Q(stripe_invoice_id__isnull=True),
                name="one_local_invoice_a_period",
            )
        ]

    def __str__(self) -> str:
        return self.number


class SegmentCredit(models.Model):
    """One-off segments added to a period's included segments by an operator."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="credits")
    period_start = models.DateTimeField()
    segments = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"+{self.segments}"


class StripeEvent(models.Model):
    """Each Stripe event handled, by its id: a repeated delivery is ignored."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.event_id


class MeterReport(models.Model):
    """One day's overage of a church, reported to Stripe's meter once.

    Written before Stripe is called; `identifier` is the same on every retry,
    so Stripe keeps one copy; `sent_at` is set once Stripe accepted it.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateTimeField()
    day = models.DateField()
    value = models.PositiveIntegerField()
    identifier = models.CharField(max_length=100, unique=True)
    event_name = models.CharField(max_length=100)
    customer = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period_start", "day"], name="one_report_a_day"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="meter_report_pending",
                condition=Q(sent_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.identifier


class UsageRollup(models.Model):
    """Each tenant's daily usage, copied here: operators need not open every tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage")
    date = models.DateField()
    messages = models.PositiveIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "tenants_usagerollup"
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "date"], name="usage_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.date}"
