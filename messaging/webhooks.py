"""Provider webhooks: no token; verified by the provider's signature.

The tenant is found from our own number in the request (`To` for inbound
messages, `From` for delivery receipts) through the registry's number map,
`church.numbers.tenant_for_number`: the door from a provider into a tenant.
What the provider sends and answers (signatures, TwiML) is the SMS backend's.

A church that cannot take a webhook now (in maintenance, or its database held
down) has it kept in the registry and replayed in order later
(`messaging.backlog`): the provider gets its usual answer, nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from api.parsers import FormParser, MultiPartParser
from church.numbers import tenant_for_number
from messaging import backlog
from messaging.errors import UnknownNumber
from messaging.inbound import receive
from messaging.receipts import update_status
from messaging.serializers import InboundSerializer, StatusSerializer
from sms.backends import get_backend
from tenants.errors import TenantUnavailable
from tenants.holds import serving, unavailable
from tenants.models import Tenant

RECEIVING = (
    Tenant.Status.ACTIVE,
    Tenant.Status.SUSPENDED,
    Tenant.Status.MAINTENANCE,  # kept, then replayed
)


def _deliver[T](
    tenant: Tenant, kind: str, payload: dict[str, Any], apply: Callable[[], T]
) -> T | None:
    """`apply` in the church (after any webhooks kept for it), or keep it."""
    if tenant.status == Tenant.Status.MAINTENANCE:
        backlog.keep(tenant, kind, payload)
        return None
    try:
        with serving(tenant):
            # Inbound messages keep their order: the older kept ones first.
            # Receipts only move a status forward, so their order does not
            # matter: the busiest webhook pays no registry query for this.
            if kind == backlog.INBOUND and backlog.has_pending(tenant):
                backlog.replay()
            return apply()
    except TenantUnavailable:
        backlog.keep(tenant, kind, payload)
        return None
    except (OperationalError, InterfaceError) as exc:
        if isinstance(unavailable(exc), TenantUnavailable):  # holds what failed
            backlog.keep(tenant, kind, payload)
            return None
        raise


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
        payload = {
            "sid": form["MessageSid"],
            "from_": form["From"],
            "to": form["To"],
            "body": form["Body"],
        }
        result = _deliver(tenant, backlog.INBOUND, payload, lambda: receive(**payload))
        return get_backend().reply(result.reply if result else None)


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
            payload = {
                "sid": form["MessageSid"],
                "status": form["MessageStatus"],
                "error_code": form["ErrorCode"],
                "message_id": request.query_params.get("message"),
            }
            _deliver(tenant, backlog.STATUS, payload, lambda: update_status(**payload))
        return HttpResponse(status=204)
