"""OpenAPI shapes of the identity endpoints, and the bearer scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from accounts.serializers import TenantRefSerializer, UserRefSerializer

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


# drf-spectacular registers extensions in an unannotated __init_subclass__.
class TenantJWTScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "accounts.tokens.TenantJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


Session = inline_serializer(
    "Session",
    {
        "access": serializers.CharField(),
        "refresh": serializers.CharField(),
        "tenant": TenantRefSerializer(),
        "user": UserRefSerializer(),
        "mfa_required": serializers.BooleanField(required=False),
        "mfa_token": serializers.CharField(required=False),
    },
)

TokenPair = inline_serializer(
    "TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
)


MfaState = inline_serializer("MfaState", {"mfa_enabled": serializers.BooleanField()})
