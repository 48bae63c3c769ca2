"""Billing as the API shows and takes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

MAX_USAGE_DAYS = 400


class PlanSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    monthly_amount = serializers.IntegerField()
    currency = serializers.CharField()
    included_segments = serializers.IntegerField()
    overage_unit_amount = serializers.IntegerField(allow_null=True)


class BillingSerializer(serializers.Serializer[Any]):
    plan = PlanSerializer()
    status = serializers.ChoiceField(
        ["trialing", "trial_ended", "active", "past_due", "unpaid", "canceled"]
    )
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    used_segments = serializers.IntegerField()
    reserved_segments = serializers.IntegerField()
    remaining_segments = serializers.IntegerField()
    overage_segments = serializers.IntegerField()
    projected_amount = serializers.IntegerField()
    trial_ends_at = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()


class SubscribeSerializer(serializers.Serializer[Any]):
    plan = serializers.CharField(max_length=32)


class UrlSerializer(serializers.Serializer[Any]):
    url = serializers.URLField()


class UsageQuerySerializer(serializers.Serializer[Any]):
    """`since`/`until`: days in the church's time zone, both included."""

    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)

    def validate_since(self, value: dt.date) -> dt.date:
        return _plausible(value)

    def validate_until(self, value: dt.date) -> dt.date:
        return _plausible(value)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("since" in data) != ("until" in data):
            missing = "until" if "since" in data else "since"
            raise serializers.ValidationError({missing: ["Give both since and until."]})
        since, until = data.get("since"), data.get("until")
        if since and until:
            if since > until:
                raise serializers.ValidationError(
                    {"since": ["Must not be after until."]}
                )
            if (until - since) > dt.timedelta(days=MAX_USAGE_DAYS):
                raise serializers.ValidationError(
                    {"until": [f"At most {MAX_USAGE_DAYS} days after since."]}
                )
        return data


def _plausible(day: dt.date) -> dt.date:
    """Days a church can have sent on (and whose neighbours exist in any zone)."""
    if not 2000 <= day.year <= 9998:
        raise serializers.ValidationError("Give a day between 2000 and 9998.")
    return day


class UsageDaySerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    messages = serializers.IntegerField()
    segments = serializers.IntegerField()


class InvoiceLineSerializer(serializers.Serializer[Any]):
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = serializers.IntegerField()
    amount = serializers.IntegerField()


class InvoiceSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    number = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    lines = InvoiceLineSerializer(many=True)
    subtotal = serializers.IntegerField()
    total = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    due_at = serializers.DateTimeField(allow_null=True)
    hosted_url = serializers.CharField(allow_blank=True)
    pdf_url = serializers.CharField(allow_blank=True)
