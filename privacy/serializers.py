from rest_framework import serializers

from sms.phones import InvalidPhone, to_e164
from tenants.context import require_tenant


class EraseSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=40)

    def validate_phone(self, value: str) -> str:
        try:
            return to_e164(value, require_tenant().country)
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ChurchExportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    download_url = serializers.CharField(required=False)
    expires_at = serializers.DateTimeField(required=False)
    size = serializers.IntegerField(required=False)
    error = serializers.CharField(required=False)
