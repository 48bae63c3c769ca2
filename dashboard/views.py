"""GET /api/onboarding, POST /api/onboarding/dismiss; the statistics."""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Membership
from accounts.permissions import IsTenantAdmin
from accounts.tokens import Identity
from dashboard.onboarding import checklist, dismiss
from dashboard.serializers import (
    OnboardingSerializer,
    StatsQuerySerializer,
    StatsSerializer,
    SummarySerializer,
)
from dashboard.stats import series, summary


def _identity(request: Request) -> Identity:
    return cast(Identity, request.auth)


class OnboardingView(APIView):
    @extend_schema(responses={200: OnboardingSerializer})
    def get(self, request: Request) -> Response:
        return Response(OnboardingSerializer(checklist(_identity(request).tenant)).data)


class DismissOnboardingView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses={204: OpenApiResponse(None)})
    def post(self, request: Request) -> Response:
        dismiss(_identity(request).tenant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StatsView(APIView):
    @extend_schema(parameters=[StatsQuerySerializer], responses={200: StatsSerializer})
    def get(self, request: Request) -> Response:
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        answer = series(q["since"], q["until"], q["granularity"], q.get("branch"))
        return Response(StatsSerializer(answer).data)


class SummaryView(APIView):
    @extend_schema(responses={200: SummarySerializer})
    def get(self, request: Request) -> Response:
        identity = _identity(request)
        billing = identity.role != Membership.Role.STAFF  # staff: without billing
        answer = summary(identity.user_id, billing=billing)
        return Response(SummarySerializer(answer).data)
