"""Provider webhooks: no token; verified by the provider's signature.

The tenant is found from our own number in the request (`To` for inbound
messages, `From` for delivery receipts) through the registry's number map,
`church.numbers.tenant_for_number`: the door from a provider into a tenant.
What the provider sends and answers (signatures, TwiML) is the SMS backend's.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from church.numbers import tenant_for_number
from messaging.errors import UnknownNumber
from messaging.inbound import receive
from messaging.receipts import update_status
from messaging.serializers import InboundSerializer, StatusSerializer
from sms.backends import get_backend
from tenants.holds import serving
from tenants.models import Tenant

RECEIVING = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


def _receiving_tenant(number: str) -> Tenant | None:
    tenant = tenant_for_number(number) if number else None
    return tenant if tenant is not None and tenant.status in RECEIVING else None


class ProviderWebhook(APIView):
    uses_tenant = False  # the number decides, not a token
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser]

    def form(self, request: Request, serializer_class: type[Any]) -> dict[str, Any]:
        """The verified, validated form; nothing is read before the signature."""
        get_backend().verify(request)
        serializer = serializer_class(data=request.POST)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class InboundWebhook(ProviderWebhook):
    @extend_schema(
        request={"application/x-www-form-urlencoded": InboundSerializer},
        responses={(200, "text/xml"): OpenApiTypes.STR},
        auth=[],
    )
    def post(self, request: Request) -> HttpResponse:
        form = self.form(request, InboundSerializer)
        tenant = _receiving_tenant(form["To"])
        if tenant is None:
            raise UnknownNumber()
        with serving(tenant):
            result = receive(
                sid=form["MessageSid"],
                from_=form["From"],
                to=form["To"],
                body=form["Body"],
            )
        return get_backend().reply(result.reply)


class StatusWebhook(ProviderWebhook):
    @extend_schema(
        request={"application/x-www-form-urlencoded": StatusSerializer},
        responses={204: OpenApiResponse(None)},
        auth=[],
    )
    def post(self, request: Request) -> HttpResponse:
        form = self.form(request, StatusSerializer)
        tenant = _receiving_tenant(form["From"])
        if tenant is not None:
            with serving(tenant):
                update_status(
                    sid=form["MessageSid"],
                    status=form["MessageStatus"],
                    error_code=form["ErrorCode"],
                    message_id=request.query_params.get("message"),
                )
        return HttpResponse(status=204)
