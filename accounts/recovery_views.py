"""Proving an address and getting back in: verification, resets, a linked phone."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import recovery
from accounts.http import PublicView, account, identity, parsed
from accounts.serializers import (
    CodeSerializer,
    ForgotSerializer,
    LinkSerializer,
    PasswordAgainSerializer,
    PhoneSerializer,
    ResetSerializer,
)
from api.clients import client_address
from api.schema import errors

# The same answer whatever happened: no hint whether an email or phone exists.
ON_ITS_WAY = {"message": "If that account exists, a message is on its way."}
OnItsWay = inline_serializer("OnItsWay", {"message": serializers.CharField()})


class VerifyEmailView(PublicView):
    @extend_schema(
        request=LinkSerializer, responses={204: OpenApiResponse(None), **errors(400)}
    )
    def post(self, request: Request) -> Response:
        recovery.verify_email(token=parsed(LinkSerializer, request)["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class SendVerificationView(APIView):
    @extend_schema(request=None, responses={202: OnItsWay, **errors(401, 429)})
    def post(self, request: Request) -> Response:
        recovery.request_verification(user=account(request))
        return Response(ON_ITS_WAY, status=status.HTTP_202_ACCEPTED)


class ForgotPasswordView(PublicView):
    @extend_schema(
        request=ForgotSerializer, responses={202: OnItsWay, **errors(400, 429)}
    )
    def post(self, request: Request) -> Response:
        data = parsed(ForgotSerializer, request)
        recovery.forgot_password(email=data["email"], address=client_address(request))
        return Response(ON_ITS_WAY, status=status.HTTP_202_ACCEPTED)


class ResetCodeView(PublicView):
    @extend_schema(
        request=LinkSerializer, responses={202: OnItsWay, **errors(400, 429)}
    )
    def post(self, request: Request) -> Response:
        data = parsed(LinkSerializer, request)
        recovery.send_reset_code(token=data["token"], address=client_address(request))
        return Response(ON_ITS_WAY, status=status.HTTP_202_ACCEPTED)


class ResetPasswordView(PublicView):
    @extend_schema(
        request=ResetSerializer,
        responses={204: OpenApiResponse(None), **errors(400, 429)},
    )
    def post(self, request: Request) -> Response:
        data = parsed(ResetSerializer, request)
        recovery.reset_password(
            token=data["token"],
            password=data["password"],
            sms_code=data.get("sms_code"),
            otp=data.get("otp"),
            address=client_address(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneView(APIView):
    @extend_schema(
        request=PhoneSerializer,
        responses={202: OnItsWay, **errors(400, 401, 409, 429)},
    )
    def post(self, request: Request) -> Response:
        data = parsed(
            PhoneSerializer, request, country=identity(request).tenant.country
        )
        recovery.start_phone_link(
            user=account(request),
            phone=data["phone"],
            password=data["password"],
            address=client_address(request),
        )
        return Response(ON_ITS_WAY, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=PasswordAgainSerializer,
        responses={204: OpenApiResponse(None), **errors(400, 401)},
    )
    def delete(self, request: Request) -> Response:
        data = parsed(PasswordAgainSerializer, request)
        recovery.unlink_phone(user=account(request), password=data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyPhoneView(APIView):
    @extend_schema(
        request=CodeSerializer,
        responses={
            200: inline_serializer("LinkedPhone", {"phone": serializers.CharField()}),
            **errors(400, 401),
        },
    )
    def post(self, request: Request) -> Response:
        code = parsed(CodeSerializer, request)["code"]
        return Response(
            {"phone": recovery.confirm_phone(user=account(request), code=code)}
        )
