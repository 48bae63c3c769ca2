"""The billing API: `/api/billing...`. Owners and admins read; owners change."""

from __future__ import annotations

import datetime as dt
from typing import cast
from zoneinfo import ZoneInfo

import stripe
from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantAdmin, IsTenantOwner
from accounts.tokens import Identity
from api.fields import parse_uuid
from api.pagination import Pagination
from api.schema import errors
from billing.actions import choose_plan, portal
from billing.allowance import subscription_of
from billing.errors import StripeSignatureInvalid, StripeUnavailable, StripeWebhooksOff
from billing.models import Invoice, Plan
from billing.serializers import (
    BillingSerializer,
    InvoiceSerializer,
    PlanSerializer,
    SubscribeSerializer,
    UrlSerializer,
    UsageDaySerializer,
    UsageQuerySerializer,
)
from billing.stripe_backend import handle_event
from billing.summary import summary
from messaging.usage import usage_by_day
from tenants.models import Tenant


def _tenant(request: Request) -> Tenant:
    return cast(Identity, request.auth).tenant


class BillingView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses={200: BillingSerializer, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(BillingSerializer(summary(_tenant(request))).data)


class PlansView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses={200: PlanSerializer(many=True), **errors(401, 403)})
    def get(self, request: Request) -> Response:
        plans = Plan.objects.filter(active=True, trial_days__isnull=True)
        return Response(PlanSerializer(plans, many=True).data)


class UsageView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="YYYY-MM-DD, church's zone"),
            OpenApiParameter("until", str, description="YYYY-MM-DD, included"),
        ],
        responses={200: UsageDaySerializer(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        tenant = _tenant(request)
        if "since" in query.validated_data:
            zone = ZoneInfo(tenant.timezone)
            since, until = query.validated_data["since"], query.validated_data["until"]
            start = dt.datetime.combine(since, dt.time.min, tzinfo=zone)
            end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, zone)
        else:
            sub = subscription_of(tenant)
            start, end = sub.period_start, sub.period_end
        days = usage_by_day(start, end, tenant.timezone)
        return Response(UsageDaySerializer(days, many=True).data)


class SubscribeView(APIView):
    permission_classes = [IsTenantOwner]

    @extend_schema(
        request=SubscribeSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="SubscribeAnswer",
                serializers=[BillingSerializer, UrlSerializer],
                resource_type_field_name=None,
            ),
            **errors(400, 401, 403, 503),
        },
    )
    def post(self, request: Request) -> Response:
        body = SubscribeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        identity = cast(Identity, request.auth)
        answer = choose_plan(identity.tenant, body.validated_data["plan"],
                             by=f"user {identity.user_id}")  # fmt: skip
        if "url" in answer:
            return Response(UrlSerializer(answer).data)
        return Response(BillingSerializer(answer).data)


class PortalView(APIView):
    permission_classes = [IsTenantOwner]

    @extend_schema(
        request=None, responses={200: UrlSerializer, **errors(401, 403, 409, 503)}
    )
    def post(self, request: Request) -> Response:
        return Response(UrlSerializer(portal(_tenant(request))).data)


class StripeWebhook(APIView):
    """Stripe's events: verified first, each handled once (billing.stripe_backend)."""

    uses_tenant = False  # the event names the church, not a token
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT, **errors(400, 404, 503)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        if settings.BILLING_BACKEND != "stripe":
            raise StripeWebhooksOff()
        try:
            event = stripe.Webhook.construct_event(
                request.body,
                request.headers.get("Stripe-Signature", ""),
                settings.STRIPE_WEBHOOK_SECRET,
                tolerance=300,
            )
        except (stripe.SignatureVerificationError, ValueError, KeyError) as exc:
            raise StripeSignatureInvalid() from exc
        try:
            handle_event(event)
        except stripe.StripeError as exc:
            raise StripeUnavailable() from exc  # Stripe sends it again later
        return Response({"received": True})


class InvoiceListView(ListAPIView[Invoice]):
    permission_classes = [IsTenantAdmin]
    serializer_class = InvoiceSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Invoice]:
        return Invoice.objects.filter(tenant=_tenant(self.request)).order_by(
            "-period_start", "id"
        )


class InvoiceView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses={200: InvoiceSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, pk: str) -> Response:
        key = parse_uuid(pk)
        if key is None:
            raise Http404
        invoice = Invoice.objects.filter(tenant=_tenant(request), pk=key).first()
        if invoice is None:
            raise Http404
        return Response(InvoiceSerializer(invoice).data)
