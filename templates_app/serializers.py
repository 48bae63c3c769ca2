from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from members.models import Member
from sms.segments import count_segments
from templates_app.models import MessageTemplate
from templates_app.placeholders import (
    PLACEHOLDERS,
    find_placeholders,
    invalid_placeholders,
)

MAX_BODY = 1600


def validate_body(value: str) -> str:
    """Only the known placeholders; at most 1600 characters (Twilio's limit)."""
    bad = invalid_placeholders(value)
    if bad:
        allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise serializers.ValidationError(
            f"Unknown placeholder(s) {', '.join(bad)}; use {allowed}."
        )
    return value


class TemplateSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        max_length=100,
        validators=[
            UniqueValidator(
                queryset=MessageTemplate.objects.all(),
                message="A template with this name already exists.",
            )
        ],
    )
    body = serializers.CharField(
        max_length=MAX_BODY, trim_whitespace=False, validators=[validate_body]
    )
    category = serializers.CharField(max_length=50, allow_blank=True, required=False)
    variables = serializers.SerializerMethodField()
    encoding = serializers.SerializerMethodField()
    segments = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "name",
            "body",
            "category",
            "variables",
            "encoding",
            "segments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_variables(self, obj: MessageTemplate) -> list[str]:
        return find_placeholders(obj.body)

    def get_encoding(self, obj: MessageTemplate) -> str:
        return count_segments(obj.body).encoding

    def get_segments(self, obj: MessageTemplate) -> int:
        return count_segments(obj.body).segments


class PreviewSerializer(serializers.Serializer):
    member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.all())
