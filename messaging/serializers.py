from django.utils import timezone
from rest_framework import serializers

from messaging.models import Broadcast, Conversation, Message, RecurringMessage
from templates_app.models import MessageTemplate
from templates_app.serializers import MAX_BODY, validate_body
from tenants.serializers import ClockField, validate_timezone


class RecipientsSerializer(serializers.Serializer):
    members = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=10_000, default=list
    )
    branches = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=1000, default=list
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        max_length=100,
        default=list,
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, data: dict) -> dict:
        if not (data["all"] or data["members"] or data["branches"] or data["tags"]):
            raise serializers.ValidationError("Name at least one recipient.")
        return data


class BodyOrTemplate(serializers.Serializer):
    body = serializers.CharField(
        max_length=MAX_BODY,
        required=False,
        trim_whitespace=False,
        validators=[validate_body],
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(), required=False, allow_null=True
    )

    def validate(self, data: dict) -> dict:
        has_body = bool(data.get("body", "").strip())
        if has_body == bool(data.get("template")):
            raise serializers.ValidationError("Give either a body or a template.")
        return data


class SendSerializer(BodyOrTemplate):
    recipients = RecipientsSerializer()
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_scheduled_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The time must be in the future.")
        return value


class BroadcastSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Broadcast
        fields = [
            "id",
            "status",
            "body",
            "template_id",
            "recipients",
            "scheduled_at",
            "recipient_count",
            "opted_out_skipped",
            "inactive_skipped",
            "segments",
            "counts",
            "created_at",
        ]

    def get_counts(self, obj: Broadcast) -> dict[str, int]:
        counts = {
            s: 0
            for s in (
                "queued",
                "sent",
                "delivered",
                "failed",
                "undelivered",
                "canceled",
            )
        }
        for status, number in getattr(obj, "status_counts", {}).items():
            key = "queued" if status == "sending" else status
            counts[key] = counts.get(key, 0) + number
        return counts


class MessageSerializer(serializers.ModelSerializer):
    member = serializers.UUIDField(source="member_id", read_only=True)
    broadcast = serializers.UUIDField(source="broadcast_id", read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "member",
            "broadcast",
            "direction",
            "body",
            "status",
            "segments",
            "error_code",
            "created_at",
            "sent_at",
            "delivered_at",
        ]


class ConversationSerializer(serializers.ModelSerializer):
    member = serializers.UUIDField(source="member_id", read_only=True)
    last_message = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "member",
            "phone",
            "last_message",
            "unread_count",
            "status",
            "needs_attention",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "member",
            "phone",
            "unread_count",
            "needs_attention",
            "updated_at",
        ]

    def get_last_message(self, obj: Conversation) -> dict | None:
        if getattr(obj, "last_created", None) is None:
            return None
        return {
            "body": obj.last_body,
            "direction": obj.last_direction,
            "created_at": obj.last_created,
        }


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY, trim_whitespace=False)


class ScheduleSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=RecurringMessage.Frequency.choices)
    time = ClockField()
    weekday = serializers.IntegerField(
        min_value=0, max_value=6, required=False, allow_null=True
    )
    day = serializers.IntegerField(
        min_value=1, max_value=31, required=False, allow_null=True
    )
    timezone = serializers.CharField(
        max_length=64, required=False, validators=[validate_timezone]
    )

    def validate(self, data: dict) -> dict:
        if data["frequency"] == "weekly" and data.get("weekday") is None:
            raise serializers.ValidationError({"weekday": ["Weekly needs a weekday."]})
        if data["frequency"] == "monthly" and data.get("day") is None:
            raise serializers.ValidationError({"day": ["Monthly needs a day."]})
        return data


class RecurringSerializer(BodyOrTemplate):
    recipients = RecipientsSerializer()
    schedule = ScheduleSerializer()
    active = serializers.BooleanField(required=False, default=True)


def recurring_data(recurring: RecurringMessage) -> dict:
    return {
        "id": str(recurring.id),
        "body": recurring.body,
        "template": str(recurring.template_id) if recurring.template_id else None,
        "recipients": recurring.recipients,
        "schedule": {
            "frequency": recurring.frequency,
            "time": recurring.time.strftime("%H:%M"),
            "weekday": recurring.weekday,
            "day": recurring.day,
            "timezone": recurring.timezone,
        },
        "active": recurring.active,
        "next_run_at": recurring.next_run_at,
        "last_run_at": recurring.last_run_at,
        "created_at": recurring.created_at,
    }


class SendAccepted(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "scheduled"])
    recipient_count = serializers.IntegerField()
    opted_out_skipped = serializers.IntegerField()
    segments = serializers.IntegerField()


class RecurringOut(serializers.Serializer):
    """The shape `recurring_data` returns (documentation only)."""

    id = serializers.UUIDField()
    body = serializers.CharField()
    template = serializers.UUIDField(allow_null=True)
    recipients = RecipientsSerializer()
    schedule = ScheduleSerializer()
    active = serializers.BooleanField()
    next_run_at = serializers.DateTimeField(allow_null=True)
    last_run_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
