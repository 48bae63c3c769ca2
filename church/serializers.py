"""The church's settings as the API shows and takes them (GET/PATCH /api/tenant)."""

from typing import Any, cast

from rest_framework import serializers

from api.fields import ClockField, CountryField, TimezoneField
from sms.fields import PhoneField
from tenants.models import Tenant


class QuietHoursSerializer(serializers.Serializer[Any]):
    start = ClockField()
    end = ClockField()

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["start"] == data["end"]:
            raise serializers.ValidationError("start and end must differ.")
        return data

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value = super().to_internal_value(data)
        return {k: v.strftime("%H:%M") for k, v in value.items()}


def _country(serializer: Any) -> str:
    """The country sent along, else the church's: only PATCH validates numbers."""
    return str(
        serializer.initial_data.get("country")
        or cast(Tenant, serializer.instance).country
    )


class ChurchSerializer(serializers.ModelSerializer[Tenant]):
    """GET/PATCH /api/tenant."""

    phone_number = PhoneField(
        country=_country, allow_null=True, allow_blank=True, required=False
    )
    quiet_hours = QuietHoursSerializer(allow_null=True, required=False)
    timezone = TimezoneField(required=False)
    country = CountryField(required=False)
    # SerializerMetaclass pops declared fields off the class: no clash at runtime
    # with the `help_text` attribute every Field has.
    help_text = serializers.CharField(  # type: ignore[assignment]
        max_length=1000, allow_blank=True, required=False
    )
    name = serializers.CharField(max_length=200, required=False)

    class Meta:
        model = Tenant
        fields = [
            "id",
            "slug",
            "name",
            "status",
            "timezone",
            "country",
            "phone_number",
            "help_text",
            "quiet_hours",
            "created_at",
        ]
        read_only_fields = ["id", "slug", "status", "created_at"]


class DeleteChurchSerializer(serializers.Serializer[Any]):
    """DELETE /api/tenant: the slug typed again, and the password or an MFA code."""

    confirm = serializers.CharField(max_length=63, trim_whitespace=False)
    password = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=256
    )
    code = serializers.CharField(required=False, allow_blank=True, max_length=32)


class DeletionSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    purge_after = serializers.DateTimeField()
