from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from api.fields import TimezoneField
from branches.models import Branch
from sms.fields import PhoneField
from tenants.context import require_tenant, tenant_country


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
    phone_number = PhoneField(
        country=tenant_country, allow_null=True, allow_blank=True, required=False
    )
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

    def validate(self, data: dict) -> dict:
        if self.instance is None and not data.get("timezone"):
            data["timezone"] = require_tenant().timezone
        return data
