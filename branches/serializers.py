from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from api.fields import TimezoneField
from branches.models import Branch
from sms.phones import InvalidPhone, to_e164
from tenants.context import require_tenant


class BranchSerializer(serializers.ModelSerializer):
    name = serializers.CharField(
        max_length=100,
        validators=[
            UniqueValidator(
                queryset=Branch.objects.all(),
                message="A branch with this name already exists.",
            )
        ],
    )
    address = serializers.CharField(max_length=300, allow_blank=True, required=False)
    timezone = TimezoneField(required=False)
    phone_number = serializers.CharField(max_length=32, allow_null=True, required=False)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Branch
        fields = [
            "id",
            "name",
            "address",
            "timezone",
            "phone_number",
            "member_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_phone_number(self, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            return to_e164(value, require_tenant().country)
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, data: dict) -> dict:
        if self.instance is None and not data.get("timezone"):
            data["timezone"] = require_tenant().timezone
        return data
