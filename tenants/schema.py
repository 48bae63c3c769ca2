"""OpenAPI descriptions that drf-spectacular cannot infer by itself."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class TenantJWTScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.auth.TenantJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


Error = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)

TenantRef = inline_serializer(
    "TenantRef",
    {
        "id": serializers.UUIDField(),
        "slug": serializers.CharField(),
        "name": serializers.CharField(),
        "status": serializers.CharField(),
    },
)

UserRef = inline_serializer(
    "UserRef",
    {
        "id": serializers.UUIDField(),
        "email": serializers.EmailField(),
        "first_name": serializers.CharField(),
        "last_name": serializers.CharField(),
        "role": serializers.CharField(),
    },
)

Session = inline_serializer(
    "Session",
    {
        "access": serializers.CharField(),
        "refresh": serializers.CharField(),
        "tenant": TenantRef,
        "user": UserRef,
        "mfa_required": serializers.BooleanField(required=False),
        "mfa_token": serializers.CharField(required=False),
    },
)

TokenPair = inline_serializer(
    "TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
)


MfaState = inline_serializer("MfaState", {"mfa_enabled": serializers.BooleanField()})


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(Error) for status in statuses}
