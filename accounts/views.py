"""Sessions and the second factor: register, log in, refresh, log out, MFA."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import limits, mfa, services
from accounts.http import PublicView, account, identity, login_answer, parsed
from accounts.schema import MfaState, Session, TokenPair
from accounts.serializers import (
    CodeSerializer,
    LoginSerializer,
    LogoutSerializer,
    MfaDisableSerializer,
    MfaVerifySerializer,
    PasswordAgainSerializer,
    PasswordSerializer,
    RecoveryCodes,
    RefreshSerializer,
    RegisterSerializer,
    TenantRefSerializer,
    UserRefSerializer,
)
from api.clients import client_address
from api.schema import errors


class RegisterView(PublicView):
    @extend_schema(
        request=RegisterSerializer,
        responses={201: Session, **errors(400, 409, 429, 503)},
    )
    def post(self, request: Request) -> Response:
        email = request.data.get("email") if isinstance(request.data, dict) else None
        limits.check(
            "register",
            f"address:{client_address(request)}",
            f"account:{str(email or '')[:254].lower()}",
        )
        data = parsed(RegisterSerializer, request)
        result = services.register(
            organization_name=data["organization_name"],
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            timezone_name=data["timezone"],
            country=data["country"],
            profile_given="timezone" in request.data and "country" in request.data,
        )
        return Response(login_answer(result), status=status.HTTP_201_CREATED)


class LoginView(PublicView):
    @extend_schema(
        request=LoginSerializer, responses={200: Session, **errors(400, 401, 403, 429)}
    )
    def post(self, request: Request) -> Response:
        data = parsed(LoginSerializer, request)
        result = services.login(
            email=data["email"],
            password=data["password"],
            tenant=data.get("tenant"),
            address=client_address(request),
        )
        return Response(login_answer(result))


class MfaVerifyView(PublicView):
    @extend_schema(
        request=MfaVerifySerializer, responses={200: Session, **errors(400, 401, 429)}
    )
    def post(self, request: Request) -> Response:
        data = parsed(MfaVerifySerializer, request)
        result = services.mfa_verify(
            mfa_token=data["mfa_token"],
            code=data["code"],
            address=client_address(request),
        )
        return Response(login_answer(result))


class RefreshView(PublicView):
    @extend_schema(
        request=RefreshSerializer, responses={200: TokenPair, **errors(400, 401, 403)}
    )
    def post(self, request: Request) -> Response:
        data = parsed(RefreshSerializer, request)
        return Response(services.refresh(raw=data["refresh"]))


class LogoutView(APIView):
    @extend_schema(
        request=LogoutSerializer,
        responses={204: OpenApiResponse(None), **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = parsed(LogoutSerializer, request)
        services.logout(identity=identity(request), raw_refresh=data.get("refresh"))
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
                    "mfa_enabled": serializers.BooleanField(),
                    "phone": serializers.CharField(allow_null=True),
                },
            ),
            **errors(401, 403),
        }
    )
    def get(self, request: Request) -> Response:
        caller = identity(request)
        user = account(request)
        return Response(
            {
                "user": UserRefSerializer(user, context={"role": caller.role}).data,
                "tenant": TenantRefSerializer(caller.tenant).data,
                "role": caller.role,
                "mfa_enabled": user.mfa_enabled,
                "phone": user.phone or None,
            }
        )


class PasswordView(APIView):
    @extend_schema(
        request=PasswordSerializer,
        responses={204: OpenApiResponse(None), **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        user = account(request)
        data = parsed(PasswordSerializer, request, user=user)
        services.change_password(
            identity=identity(request),
            old_password=data["old_password"],
            new_password=data["new_password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaSetupView(APIView):
    @extend_schema(
        request=PasswordAgainSerializer,
        responses={
            200: inline_serializer(
                "MfaSetup",
                {
                    "secret": serializers.CharField(),
                    "otpauth_url": serializers.CharField(),
                },
            ),
            **errors(400, 401, 409),
        },
    )
    def post(self, request: Request) -> Response:
        data = parsed(PasswordAgainSerializer, request)
        return Response(mfa.mfa_setup(user=account(request), password=data["password"]))


class MfaEnableView(APIView):
    @extend_schema(
        request=CodeSerializer,
        responses={
            200: inline_serializer(
                "MfaEnabled",
                {
                    "mfa_enabled": serializers.BooleanField(),
                    "recovery_codes": serializers.ListField(
                        child=serializers.CharField()
                    ),
                },
            ),
            **errors(400, 401),
        },
    )
    def post(self, request: Request) -> Response:
        data = parsed(CodeSerializer, request)
        codes = mfa.mfa_enable(user=account(request), code=data["code"])
        return Response({"mfa_enabled": True, "recovery_codes": codes})


class MfaDisableView(APIView):
    @extend_schema(
        request=MfaDisableSerializer, responses={200: MfaState, **errors(400, 401)}
    )
    def post(self, request: Request) -> Response:
        data = parsed(MfaDisableSerializer, request)
        mfa.mfa_disable(
            user=account(request), code=data["code"], password=data["password"]
        )
        return Response({"mfa_enabled": False})


class RecoveryCodesView(APIView):
    @extend_schema(
        request=PasswordAgainSerializer,
        responses={200: RecoveryCodes, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        data = parsed(PasswordAgainSerializer, request)
        codes = mfa.regenerate_recovery_codes(
            user=account(request), password=data["password"]
        )
        return Response({"recovery_codes": codes})
