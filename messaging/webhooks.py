"""Provider webhooks: no token; verified by the provider's signature.

The tenant is found from our own number in the request (`To` for inbound
messages, `From` for delivery receipts) through the registry's number map:
the second and last door from outside input into a tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from config.errors import TenantUnavailable
from messaging.inbound import receive
from messaging.receipts import update_status
from tenants.context import tenant_context
from tenants.health import mark_server_up, server_is_down
from tenants.models import Tenant
from tenants.numbers import tenant_for_number

RECEIVING = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


class TwilioWebhook(APIView):
    uses_tenant = False  # the number decides, not a token
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser]

    def verify(self, request: Request) -> None:
        """Check Twilio's signature whenever a token is configured.

        Without one only development accepts webhooks unsigned: in production
        anyone could otherwise forge a member's STOP.
        """
        token = settings.TWILIO_AUTH_TOKEN
        if not token:
            if settings.PRODUCTION:
                raise PermissionDenied(
                    "Webhooks need TWILIO_AUTH_TOKEN to be verified."
                )
            return
        url = request.build_absolute_uri()
        if settings.PUBLIC_BASE_URL:
            url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not RequestValidator(token).validate(
            url, request.POST, signature
        ):
            raise PermissionDenied("The request signature is not valid.")

    def field(self, request: Request, name: str, *, required: bool = True) -> str:
        value = request.POST.get(name, "")
        if required and not value:
            raise ValidationError({name: ["This field is required."]})
        return value[:2000]

    def tenant_of(self, number: str) -> Tenant:
        tenant = tenant_for_number(number)
        if tenant is None or tenant.status not in RECEIVING:
            raise NotFound("No church sends from this number.")
        return tenant

    @contextmanager
    def inside(self, tenant: Tenant) -> Iterator[None]:
        """The tenant's context, refused at once while its server is held down.

        The same hold the token middleware honours: no connect timeout per
        webhook while the server is away, and the first success lifts it.
        """
        if server_is_down(tenant.server_id):
            raise TenantUnavailable()
        with tenant_context(tenant):
            yield
        mark_server_up(tenant.server_id)


def twiml(reply: str | None) -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml")


InboundForm = inline_serializer(
    "InboundSms",
    {
        "From": serializers.CharField(),
        "To": serializers.CharField(),
        "Body": serializers.CharField(required=False, allow_blank=True),
        "MessageSid": serializers.CharField(),
    },
)
StatusForm = inline_serializer(
    "SmsStatus",
    {
        "MessageSid": serializers.CharField(),
        "MessageStatus": serializers.CharField(),
        "ErrorCode": serializers.CharField(required=False, allow_blank=True),
        "From": serializers.CharField(required=False, allow_blank=True),
    },
)


class InboundWebhook(TwilioWebhook):
    @extend_schema(
        request={"application/x-www-form-urlencoded": InboundForm},
        responses={(200, "text/xml"): OpenApiTypes.STR},
        auth=[],
    )
    def post(self, request: Request) -> HttpResponse:
        self.verify(request)
        sid = self.field(request, "MessageSid")
        from_ = self.field(request, "From")
        to = self.field(request, "To")
        body = self.field(request, "Body", required=False)
        with self.inside(self.tenant_of(to)):
            result = receive(sid=sid, from_=from_, to=to, body=body)
        return twiml(result.reply)


class StatusWebhook(TwilioWebhook):
    @extend_schema(
        request={"application/x-www-form-urlencoded": StatusForm},
        responses={204: OpenApiResponse(None)},
        auth=[],
    )
    def post(self, request: Request) -> HttpResponse:
        self.verify(request)
        sid = self.field(request, "MessageSid")
        status = self.field(request, "MessageStatus")
        number = self.field(request, "From", required=False)
        tenant = tenant_for_number(number) if number else None
        if tenant is not None and tenant.status in RECEIVING:
            with self.inside(tenant):
                update_status(
                    sid=sid,
                    status=status,
                    error_code=self.field(request, "ErrorCode", required=False),
                    message_id=request.query_params.get("message"),
                )
        return HttpResponse(status=204)
