"""Input and output shapes of the auth and staff endpoints."""

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import Invitation, Membership, User
from api.fields import CountryField, TimezoneField
from sms.fields import PhoneField
from tenants.models import Tenant


def _password_errors(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(list(exc.messages)) from exc


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
    timezone = TimezoneField(required=False, default="America/New_York")
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
    code = serializers.CharField(max_length=20)  # a TOTP or a recovery code


class CodeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=20)


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


class TenantRefSerializer(serializers.ModelSerializer[Tenant]):
    """The church a session is for."""

    class Meta:
        model = Tenant
        fields = ["id", "slug", "name", "status"]


class UserRefSerializer(serializers.ModelSerializer[User]):
    """A person with their role in this session's church (`context["role"]`)."""

    role = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "email_verified", "role"]

    def get_role(self, user: User) -> str:
        return str(self.context["role"])


class StaffSerializer(serializers.Serializer[Membership]):
    """A membership, shown as the person with their role here."""

    id = serializers.UUIDField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    role = serializers.CharField(read_only=True)
    mfa_enabled = serializers.BooleanField(source="user.mfa_enabled", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class StaffUpdateSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "expires_at", "created_at"]
        read_only_fields = fields


class InviteSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, default=Membership.Role.STAFF
    )


def _secret(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(trim_whitespace=False, write_only=True, **kwargs)


class AcceptSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=200)
    password = _secret(max_length=128, required=False, allow_blank=True, default="")
    first_name = serializers.CharField(
        max_length=150, required=False, default="", allow_blank=True
    )
    last_name = serializers.CharField(
        max_length=150, required=False, default="", allow_blank=True
    )


class LinkSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=200)


class ForgotSerializer(serializers.Serializer[Any]):
    # A plain string: a malformed email gets the same 202 as an unknown one.
    email = serializers.CharField(max_length=254)


class ResetSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=200)
    password = _secret(max_length=128)
    sms_code = serializers.CharField(max_length=10, required=False, allow_blank=True)
    otp = serializers.CharField(max_length=20, required=False, allow_blank=True)


class PasswordAgainSerializer(serializers.Serializer[Any]):
    """The current password, asked again before a sensitive change."""

    password = _secret(max_length=128)


class MfaDisableSerializer(PasswordAgainSerializer):
    code = serializers.CharField(max_length=20)


class PhoneSerializer(PasswordAgainSerializer):
    phone = PhoneField(country=lambda serializer: serializer.context["country"])


class RecoveryCodes(serializers.Serializer[Any]):
    """The recovery codes, shown once (documentation only)."""

    recovery_codes = serializers.ListField(child=serializers.CharField())
