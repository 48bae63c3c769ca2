"""Input and output shapes of the messaging endpoints and the provider webhooks."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import ClockField, TimezoneField, parse_uuid
from messaging.compose import Recipients
from messaging.models import (
    Broadcast,
    Conversation,
    ConversationNote,
    Message,
    RecurringMessage,
    Survey,
)
from messaging.recurring import save_recurring
from sms.fields import PhoneField
from templates_app.models import MessageTemplate
from templates_app.serializers import MAX_BODY, validate_body


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
            "sent_by",
            "created_at",
            "sent_at",
            "delivered_at",
        ]


class ConversationSerializer(serializers.ModelSerializer):
    member = serializers.UUIDField(source="member_id", read_only=True)
    assignee = serializers.UUIDField(source="assignee_id", read_only=True)
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
            "assignee",
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


class ConversationUpdateSerializer(serializers.Serializer):
    """PATCH a thread: its status, its assignee (a staff user id, or null)."""

    status = serializers.ChoiceField(
        choices=Conversation.Status.choices, required=False
    )
    assignee = serializers.UUIDField(required=False, allow_null=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data:
            raise serializers.ValidationError("Give a status or an assignee.")
        return data


class ConversationFilterSerializer(serializers.Serializer):
    """GET /api/messages/conversations: ?assignee=me|none|<user id>&status=."""

    assignee = serializers.CharField(required=False, max_length=36)
    status = serializers.ChoiceField(
        choices=Conversation.Status.choices, required=False
    )

    def validate_assignee(self, value: str) -> str:
        if value in ("me", "none") or parse_uuid(value) is not None:
            return value
        raise serializers.ValidationError("Use me, none or a staff user's id.")


class NoteSerializer(serializers.ModelSerializer):
    author = serializers.UUIDField(source="author_id", read_only=True)
    body = serializers.CharField(max_length=2000)

    class Meta:
        model = ConversationNote
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = ["id", "created_at"]


class HistoryFilterSerializer(serializers.Serializer):
    """The query parameters of GET /api/messages/history (instants read in UTC)."""

    member = serializers.UUIDField(required=False)
    direction = serializers.ChoiceField(
        choices=Message.Direction.choices, required=False
    )
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class ScheduleSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=RecurringMessage.Frequency.choices)
    time = ClockField()
    weekday = serializers.IntegerField(
        min_value=0, max_value=6, required=False, allow_null=True
    )
    day = serializers.IntegerField(
        min_value=1, max_value=31, required=False, allow_null=True
    )
    timezone = TimezoneField(required=False)

    def validate(self, data: dict) -> dict:
        if data["frequency"] == "weekly" and data.get("weekday") is None:
            raise serializers.ValidationError({"weekday": ["Weekly needs a weekday."]})
        if data["frequency"] == "monthly" and data.get("day") is None:
            raise serializers.ValidationError({"day": ["Monthly needs a day."]})
        return data


class WholeObject(serializers.Field):
    """A nested object given whole, validated by its own serializer.

    Inside a PATCH it replaces the stored one: DRF would otherwise validate it
    as partial too, and a schedule without its frequency would pass.
    """

    def __init__(self, serializer_class: type[serializers.Serializer], **kwargs: Any):
        self.serializer_class = serializer_class
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict:
        serializer = self.serializer_class(data=data)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return dict(serializer.validated_data)

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(RecipientsSerializer)
class RecipientsField(WholeObject):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(RecipientsSerializer, **kwargs)


@extend_schema_field(ScheduleSerializer)
class ScheduleField(WholeObject):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ScheduleSerializer, **kwargs)


class RecurringSerializer(serializers.Serializer):
    """A recurring message in and out; a PATCH changes only the fields it names.

    Body and template exclude each other: setting one clears the other.
    """

    id = serializers.UUIDField(read_only=True)
    body = serializers.CharField(
        max_length=MAX_BODY,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        validators=[validate_body],
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(), required=False, allow_null=True
    )
    recipients = RecipientsField()
    schedule = ScheduleField()
    active = serializers.BooleanField(required=False, default=True)
    next_run_at = serializers.DateTimeField(read_only=True)
    last_run_at = serializers.DateTimeField(read_only=True)
    skipped_count = serializers.IntegerField(read_only=True)
    last_skipped_at = serializers.DateTimeField(read_only=True)
    last_skip_reason = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def validate(self, data: dict) -> dict:
        current = self.instance
        if current is not None:
            if data.get("body", "").strip() and "template" not in data:
                data["template"] = None
            if data.get("template") and "body" not in data:
                data["body"] = ""
        body = data.get("body", current.body if current else "")
        template = (
            data["template"]
            if "template" in data
            else (current.template_id if current else None)
        )
        if bool(body.strip()) == bool(template):
            raise serializers.ValidationError("Give either a body or a template.")
        return data

    def to_representation(self, instance: RecurringMessage) -> dict:
        return {
            "id": str(instance.id),
            "body": instance.body,
            "template": str(instance.template_id) if instance.template_id else None,
            "recipients": instance.recipients,
            "schedule": {
                "frequency": instance.frequency,
                "time": instance.time.strftime("%H:%M"),
                "weekday": instance.weekday,
                "day": instance.day,
                "timezone": instance.timezone,
            },
            "active": instance.active,
            # Datetimes as they are: the JSON renderer writes them as ISO 8601.
            "next_run_at": instance.next_run_at,
            "last_run_at": instance.last_run_at,
            "skipped_count": instance.skipped_count,
            "last_skipped_at": instance.last_skipped_at,
            "last_skip_reason": instance.last_skip_reason,
            "created_at": instance.created_at,
        }

    def create(self, validated_data: dict) -> RecurringMessage:
        created_by = validated_data.pop("created_by", None)
        return self._save(RecurringMessage(created_by=created_by), validated_data)

    def update(
        self, instance: RecurringMessage, validated_data: dict
    ) -> RecurringMessage:
        return self._save(instance, validated_data)

    def _save(self, recurring: RecurringMessage, data: dict) -> RecurringMessage:
        """Validated fields onto the row; a PATCH keeps what it does not name."""
        schedule = data.get("schedule") or {
            "frequency": recurring.frequency,
            "time": recurring.time,
            "weekday": recurring.weekday,
            "day": recurring.day,
            "timezone": recurring.timezone,
        }
        template_id = recurring.template_id
        if "template" in data:
            template_id = data["template"].pk if data["template"] else None
        recipients = data.get("recipients", recurring.recipients)
        return save_recurring(
            recurring,
            body=data.get("body", recurring.body),
            template_id=template_id,
            recipients=Recipients(**recipients),
            frequency=schedule["frequency"],
            time=schedule["time"],
            weekday=schedule.get("weekday"),
            day=schedule.get("day"),
            timezone_name=schedule.get("timezone"),
            active=data.get("active", recurring.active),
        )


class InboundSerializer(serializers.Serializer):
    """Twilio's inbound message form (the fields we use)."""

    From = PhoneField()
    To = PhoneField()
    Body = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
    )
    MessageSid = serializers.CharField(max_length=64)


class StatusSerializer(serializers.Serializer):
    """Twilio's status callback form (the fields we use)."""

    MessageSid = serializers.CharField(max_length=64)
    MessageStatus = serializers.CharField(max_length=20)
    ErrorCode = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default=""
    )
    From = PhoneField(required=False, allow_blank=True, default="")


class SendAccepted(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "scheduled"])
    recipient_count = serializers.IntegerField()
    opted_out_skipped = serializers.IntegerField()
    segments = serializers.IntegerField()


class DraftRequestSerializer(serializers.Serializer):
    """POST /api/messages/drafts: what to write about, and how long it may be."""

    prompt = serializers.CharField(max_length=1000)
    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(), required=False, allow_null=True
    )
    max_segments = serializers.IntegerField(min_value=1, max_value=10, default=1)


class DraftSerializer(serializers.Serializer):
    body = serializers.CharField()
    segments = serializers.IntegerField()
    encoding = serializers.ChoiceField(choices=["GSM-7", "UCS-2"])
    variables = serializers.ListField(
        child=serializers.CharField(), help_text="the placeholders the draft uses"
    )
    ucs2_characters = serializers.ListField(
        child=serializers.CharField(),
        help_text="the characters that force UCS-2 (fewer characters a segment)",
    )


def _body(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        max_length=MAX_BODY, trim_whitespace=False, validators=[validate_body], **kwargs
    )


class SurveyRepliesSerializer(serializers.Serializer):
    """The thank-you each category of score gets."""

    promoter = _body(help_text="to a 9 or 10")
    passive = _body(help_text="to a 7 or 8")
    detractor = _body(help_text="to 0 to 6")


class SurveyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    question = _body(required=False, help_text="default: the NPS question")
    recipients = RecipientsSerializer()
    closes_at = serializers.DateTimeField(required=False)
    replies = SurveyRepliesSerializer()

    def validate_closes_at(self, value: Any) -> Any:
        if value <= timezone.now():
            raise serializers.ValidationError("A survey closes in the future.")
        return value


class SurveySerializer(serializers.ModelSerializer):
    broadcast = serializers.UUIDField(source="broadcast_id", read_only=True)
    recipient_count = serializers.IntegerField(
        source="broadcast.recipient_count", read_only=True
    )
    opted_out_skipped = serializers.IntegerField(
        source="broadcast.opted_out_skipped", read_only=True
    )
    replies = serializers.SerializerMethodField()

    class Meta:
        model = Survey
        fields = ["id", "name", "question", "broadcast", "recipient_count",
                  "opted_out_skipped", "skipped_recent", "closes_at", "replies",
                  "created_at"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(SurveyRepliesSerializer)
    def get_replies(self, survey: Survey) -> dict[str, str]:
        return {
            "promoter": survey.promoter_reply,
            "passive": survey.passive_reply,
            "detractor": survey.detractor_reply,
        }


class _Tally(serializers.Serializer):
    responses = serializers.IntegerField()
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField()
    nps = serializers.IntegerField(
        allow_null=True, help_text="% promoters - % detractors, rounded"
    )


class _BranchTally(_Tally):
    branch = serializers.UUIDField(allow_null=True)
    name = serializers.CharField()


class _TagTally(_Tally):
    tag = serializers.CharField()


class SurveyResultsSerializer(_Tally):
    sent = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)
    skipped_recent = serializers.IntegerField()
    by_branch = _BranchTally(many=True)
    by_tag = _TagTally(many=True)
