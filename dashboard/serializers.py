"""The documented shapes of the dashboard's answers."""

import datetime as dt
import uuid
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from branches.models import Branch
from dashboard.stats import MAX_DAYS
from stats.rollup import local_day


class StepSerializer(serializers.Serializer[Any]):
    key = serializers.ChoiceField(
        choices=["profile", "sending_number", "members", "first_message", "team",
                 "mfa", "plan"]
    )  # fmt: skip
    title = serializers.CharField()
    done = serializers.BooleanField()
    done_at = serializers.DateTimeField(required=False)
    help = serializers.CharField(help_text="the endpoint that completes the step")


class OnboardingSerializer(serializers.Serializer[Any]):
    steps = StepSerializer(many=True)
    completed = serializers.BooleanField(help_text="every step but mfa is done")
    dismissed = serializers.BooleanField()


class StatsQuerySerializer(serializers.Serializer[Any]):
    """GET /api/stats: dates in the church's time zone (default the last 30 days)."""

    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    granularity = serializers.ChoiceField(["day", "week", "month"], default="day")
    branch = serializers.UUIDField(required=False)

    def validate_branch(self, value: uuid.UUID) -> uuid.UUID:
        if not Branch.objects.filter(pk=value).exists():
            raise serializers.ValidationError("Unknown branch.")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        until = data.get("until") or local_day(timezone.now())
        since = data.get("since") or until - dt.timedelta(days=29)
        if since > until:
            raise serializers.ValidationError({"since": ["since is after until."]})
        if (until - since).days + 1 > MAX_DAYS:
            raise serializers.ValidationError(
                {"since": [f"At most {MAX_DAYS} days at once."]}
            )
        return {**data, "since": since, "until": until}


class _Counts(serializers.Serializer[Any]):
    messages_sent = serializers.IntegerField()
    segments = serializers.IntegerField()
    delivered = serializers.IntegerField()
    undelivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    inbound = serializers.IntegerField()
    replies = serializers.IntegerField(
        help_text="broadcast messages answered within 72 h"
    )
    opt_outs = serializers.IntegerField()
    new_members = serializers.IntegerField()


class PeriodSerializer(_Counts):
    period = serializers.DateField(help_text="the first day of the bucket")


class TotalsSerializer(_Counts):
    delivery_rate = serializers.FloatField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True)


class StatsSerializer(serializers.Serializer[Any]):
    series = PeriodSerializer(many=True)
    totals = TotalsSerializer()


class _MemberCounts(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    active = serializers.IntegerField()
    opted_out = serializers.IntegerField()


class _Billing(serializers.Serializer[Any]):
    used_segments = serializers.IntegerField()
    included_segments = serializers.IntegerField()


class _Threads(serializers.Serializer[Any]):
    open = serializers.IntegerField()
    unread = serializers.IntegerField()
    mine_unread = serializers.IntegerField()


class _LastBroadcast(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    sent_at = serializers.DateTimeField(allow_null=True)
    recipients = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    replies = serializers.IntegerField()


class SummarySerializer(serializers.Serializer[Any]):
    members = _MemberCounts()
    billing = _Billing(required=False, help_text="owners and admins only")
    conversations = _Threads()
    last_broadcast = _LastBroadcast(allow_null=True)
