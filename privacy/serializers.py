from rest_framework import serializers

from sms.fields import PhoneField
from tenants.context import tenant_country


class EraseSerializer(serializers.Serializer):
    phone = PhoneField(country=tenant_country)


class ChurchExportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    download_url = serializers.CharField(required=False)
    expires_at = serializers.DateTimeField(required=False)
    size = serializers.IntegerField(required=False)
    error = serializers.CharField(required=False)
