"""Input and output shapes of the auth and staff endpoints."""

from typing import TYPE_CHECKING, Any, cast
from zoneinfo import available_timezones

import phonenumbers
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.models import Membership, Tenant, User

if TYPE_CHECKING:
    from rest_framework.validators import Validator


def _password_errors(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(list(exc.messages)) from exc


def validate_timezone(value: str) -> str:
    if value not in available_timezones():
        raise serializers.ValidationError(
            "Use an IANA time zone such as America/Chicago."
        )
    return value


# DRF ignores what a validator returns; its stubs want validators to return None.
_timezone_validator = cast("Validator[str]", validate_timezone)


class CountryField(serializers.CharField):
    """An ISO 3166 alpha-2 code that phonenumbers knows, stored upper-case."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).strip().upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise serializers.ValidationError("Use an ISO 3166 alpha-2 country code.")
        return value


class RegisterSerializer(serializers.Serializer[Any]):
    organization_name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        max_length=128, write_only=True, trim_whitespace=False
    )
    first_name = serializers.CharField(
        max_length=150, required=False, default="", allow_blank=True
    )
    last_name = serializers.CharField(
        max_length=150, required=False, default="", allow_blank=True
    )
    timezone = serializers.CharField(
        max_length=64,
        required=False,
        default="America/New_York",
        validators=[_timezone_validator],
    )
    country = CountryField(required=False, default="US")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        candidate = User(
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
        )
        try:
            _password_errors(data["password"], candidate)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"password": exc.detail}) from exc
        return data


class LoginSerializer(serializers.Serializer[Any]):
    # Plain strings: a malformed email gets the same 401 as a wrong one.
    email = serializers.CharField(max_length=254, trim_whitespace=True)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    tenant = serializers.CharField(max_length=100, required=False, allow_blank=True)


class MfaVerifySerializer(serializers.Serializer[Any]):
    mfa_token = serializers.CharField(max_length=2000)
    code = serializers.CharField(max_length=10)


class CodeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=10)


class RefreshSerializer(serializers.Serializer[Any]):
    refresh = serializers.CharField(max_length=2000)


class LogoutSerializer(serializers.Serializer[Any]):
    refresh = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class PasswordSerializer(serializers.Serializer[Any]):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    def validate_old_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("The current password is wrong.")
        return value

    def validate_new_password(self, value: str) -> str:
        _password_errors(value, self.context["user"])
        return value


def tenant_data(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": str(tenant.id),
        "slug": tenant.slug,
        "name": tenant.name,
        "status": tenant.status,
    }


def user_data(user: User, role: str) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": role,
    }


class StaffSerializer(serializers.Serializer[Membership]):
    """A membership, shown as the person with their role here."""

    id = serializers.UUIDField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    role = serializers.CharField(read_only=True)
    mfa_enabled = serializers.BooleanField(source="user.mfa_enabled", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class StaffCreateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, default=Membership.Role.STAFF
    )
    # Always required and validated, even when the email already has an account
    # (then it is not used): the answer must not reveal which emails exist.
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, write_only=True
    )
    first_name = serializers.CharField(
        max_length=150, required=False, default="", allow_blank=True
    )
    last_name = serializers.CharField(
        max_length=150, required=False, default="", allow_blank=True
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        candidate = User(
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
        )
        try:
            _password_errors(data["password"], candidate)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"password": exc.detail}) from exc
        return data


class StaffUpdateSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


@extend_schema_field(
    {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "08:00"}
)
class ClockField(serializers.TimeField):
    """A local wall-clock time written "HH:MM"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


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


class ChurchSerializer(serializers.ModelSerializer[Tenant]):
    """GET/PATCH /api/tenant."""

    phone_number = serializers.CharField(max_length=32, allow_null=True, required=False)
    quiet_hours = QuietHoursSerializer(allow_null=True, required=False)
    timezone = serializers.CharField(
        max_length=64, validators=[_timezone_validator], required=False
    )
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

    def validate_phone_number(self, value: str | None) -> str | None:
        from members.phones import InvalidPhone, to_e164

        if value in (None, ""):
            return None
        # Only PATCH validates here, so the instance exists.
        country = (
            self.initial_data.get("country") or cast(Tenant, self.instance).country
        )
        try:
            return to_e164(value, str(country))
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from exc
