"""The auth and staff endpoints (thin: parse, call a service, serialize)."""

from typing import Any, cast

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import limits, mfa, services, staff
from accounts.errors import InvalidCode, TokenRevoked
from accounts.models import Membership, User
from accounts.permissions import IsTenantAdmin
from accounts.schema import MfaState, Session, TokenPair
from accounts.serializers import (
    CodeSerializer,
    LoginSerializer,
    LogoutSerializer,
    MfaVerifySerializer,
    PasswordSerializer,
    RefreshSerializer,
    RegisterSerializer,
    StaffCreateSerializer,
    StaffSerializer,
    StaffUpdateSerializer,
    TenantRefSerializer,
    UserRefSerializer,
)
from accounts.tokens import Identity
from api.pagination import Pagination
from api.schema import errors, paginated

# --- auth ---


def _identity(request: Request) -> Identity:
    """The verified caller: TenantJWTAuthentication sets `request.auth` to it."""
    return cast(Identity, request.auth)


def _account(request: Request) -> User:
    """The caller's registry account; gone or disabled means its tokens are too."""
    user = User.objects.filter(pk=_identity(request).user_id, is_active=True).first()
    if user is None:
        raise TokenRevoked()
    return user


def _address(request: Request) -> str:
    return cast(str, request.META.get("REMOTE_ADDR", ""))


def _parsed(
    serializer_class: type[serializers.Serializer[Any]],
    request: Request,
    **context: Any,
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return cast(dict[str, Any], serializer.validated_data)


def _login_answer(result: services.LoginResult) -> dict[str, Any]:
    if result.mfa_token:
        return {"mfa_required": True, "mfa_token": result.mfa_token}
    # Without an MFA challenge, a result always carries its tokens and tenant.
    return {
        **cast(dict[str, str], result.tokens),
        "tenant": TenantRefSerializer(result.tenant).data,
        "user": UserRefSerializer(result.user, context={"role": result.role}).data,
    }


class PublicView(APIView):
    """Reachable without a token; an Authorization header is ignored entirely."""

    uses_tenant = False  # TenantMiddleware enters no tenant for these
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]


class RegisterView(PublicView):
    @extend_schema(
        request=RegisterSerializer,
        responses={201: Session, **errors(400, 409, 429, 503)},
    )
    def post(self, request: Request) -> Response:
        email = request.data.get("email") if isinstance(request.data, dict) else None
        limits.check(
            "register",
            f"address:{_address(request)}",
            f"account:{str(email or '')[:254].lower()}",
        )
        data = _parsed(RegisterSerializer, request)
        result = services.register(
            organization_name=data["organization_name"],
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            timezone_name=data["timezone"],
            country=data["country"],
        )
        return Response(_login_answer(result), status=status.HTTP_201_CREATED)


class LoginView(PublicView):
    @extend_schema(
        request=LoginSerializer, responses={200: Session, **errors(400, 401, 403, 429)}
    )
    def post(self, request: Request) -> Response:
        data = _parsed(LoginSerializer, request)
        result = services.login(
            email=data["email"],
            password=data["password"],
            tenant=data.get("tenant"),
            address=_address(request),
        )
        return Response(_login_answer(result))


class MfaVerifyView(PublicView):
    @extend_schema(
        request=MfaVerifySerializer, responses={200: Session, **errors(400, 401, 429)}
    )
    def post(self, request: Request) -> Response:
        data = _parsed(MfaVerifySerializer, request)
        result = services.mfa_verify(
            mfa_token=data["mfa_token"], code=data["code"], address=_address(request)
        )
        return Response(_login_answer(result))


class RefreshView(PublicView):
    @extend_schema(
        request=RefreshSerializer, responses={200: TokenPair, **errors(400, 401, 403)}
    )
    def post(self, request: Request) -> Response:
        data = _parsed(RefreshSerializer, request)
        return Response(services.refresh(raw=data["refresh"]))


class LogoutView(APIView):
    @extend_schema(
        request=LogoutSerializer,
        responses={204: OpenApiResponse(None), **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = _parsed(LogoutSerializer, request)
        services.logout(identity=_identity(request), raw_refresh=data.get("refresh"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "Me",
                {
                    "user": UserRefSerializer(),
                    "tenant": TenantRefSerializer(),
                    "role": serializers.CharField(),
                },
            ),
            **errors(401, 403),
        }
    )
    def get(self, request: Request) -> Response:
        identity = _identity(request)
        user = _account(request)
        return Response(
            {
                "user": UserRefSerializer(user, context={"role": identity.role}).data,
                "tenant": TenantRefSerializer(identity.tenant).data,
                "role": identity.role,
            }
        )


class PasswordView(APIView):
    @extend_schema(
        request=PasswordSerializer,
        responses={204: OpenApiResponse(None), **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        user = _account(request)
        data = _parsed(PasswordSerializer, request, user=user)
        services.change_password(
            identity=_identity(request),
            old_password=data["old_password"],
            new_password=data["new_password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaSetupView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "MfaSetup",
                {
                    "secret": serializers.CharField(),
                    "otpauth_url": serializers.CharField(),
                },
            ),
            **errors(401, 409),
        },
    )
    def post(self, request: Request) -> Response:
        user = _account(request)
        return Response(mfa.mfa_setup(user=user))


class MfaEnableView(APIView):
    @extend_schema(
        request=CodeSerializer,
        responses={
            200: MfaState,
            **errors(400, 401),
        },
    )
    def post(self, request: Request) -> Response:
        data = _parsed(CodeSerializer, request)
        user = _account(request)
        if not mfa.mfa_enable(user=user, code=data["code"]):
            raise InvalidCode()
        return Response({"mfa_enabled": True})


class MfaDisableView(APIView):
    @extend_schema(
        request=CodeSerializer,
        responses={
            200: MfaState,
            **errors(400, 401),
        },
    )
    def post(self, request: Request) -> Response:
        data = _parsed(CodeSerializer, request)
        user = _account(request)
        if not mfa.mfa_disable(user=user, code=data["code"]):
            raise InvalidCode()
        return Response({"mfa_enabled": False})


# --- staff ---


class StaffListView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses={200: paginated("StaffPage", StaffSerializer), **errors(401, 403)}
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page: list[Membership] | None = paginator.paginate_queryset(
            staff.staff_of(_identity(request).tenant), request
        )
        # many=True builds a ListSerializer; the stubs type `instance` as one object.
        return paginator.get_paginated_response(
            StaffSerializer(page, many=True).data  # type: ignore[arg-type]
        )

    @extend_schema(
        request=StaffCreateSerializer,
        responses={201: StaffSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = _parsed(StaffCreateSerializer, request)
        membership = staff.add_staff(
            tenant=_identity(request).tenant, actor_role=_identity(request).role, **data
        )
        return Response(
            StaffSerializer(membership).data, status=status.HTTP_201_CREATED
        )


class StaffDetailView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        operation_id="users_detail",
        responses={200: StaffSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, user_id: str) -> Response:
        membership = staff.get_member(tenant=_identity(request).tenant, user_id=user_id)
        return Response(StaffSerializer(membership).data)

    @extend_schema(
        request=StaffUpdateSerializer,
        responses={200: StaffSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, user_id: str) -> Response:
        data = _parsed(StaffUpdateSerializer, request)
        membership = staff.change_staff(
            tenant=_identity(request).tenant,
            actor_role=_identity(request).role,
            user_id=user_id,
            **data,
        )
        return Response(StaffSerializer(membership).data)

    @extend_schema(responses={204: OpenApiResponse(None), **errors(401, 403, 404, 409)})
    def delete(self, request: Request, user_id: str) -> Response:
        staff.remove_staff(
            tenant=_identity(request).tenant,
            actor_role=_identity(request).role,
            user_id=user_id,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
