"""What the identity views share: the caller, a parsed body, the login answer."""

from __future__ import annotations

from typing import Any, cast

from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.errors import TokenRevoked
from accounts.models import User
from accounts.serializers import TenantRefSerializer, UserRefSerializer
from accounts.services import LoginResult
from accounts.tokens import Identity


def identity(request: Request) -> Identity:
    """The verified caller: TenantJWTAuthentication sets `request.auth` to it."""
    return cast(Identity, request.auth)


def account(request: Request) -> User:
    """The caller's registry account; gone or disabled means its tokens are too."""
    user = User.objects.filter(pk=identity(request).user_id, is_active=True).first()
    if user is None:
        raise TokenRevoked()
    return user


def parsed(
    serializer_class: type[serializers.Serializer[Any]],
    request: Request,
    **context: Any,
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return cast(dict[str, Any], serializer.validated_data)


def login_answer(result: LoginResult) -> dict[str, Any]:
    if result.mfa_token:
        return {"mfa_required": True, "mfa_token": result.mfa_token}
    # Without an MFA challenge, a result always carries its tokens and tenant.
    return {
        **cast(dict[str, str], result.tokens),
        "tenant": TenantRefSerializer(result.tenant).data,
        "user": UserRefSerializer(result.user, context={"role": result.role}).data,
    }


class PublicView(APIView):
    """Reachable without a token; the token middleware reads none for these."""

    uses_tenant = False
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
