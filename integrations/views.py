"""The Planning Center connection, its lists, "sync now", its runs; its webhook."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantAdmin, IsTenantOwner
from accounts.tokens import Identity
from api.errors import NotFound, ServiceUnavailable
from api.pagination import Pagination
from api.schema import errors
from integrations import connection as pco
from integrations import webhooks
from integrations.models import PlanningCenterConnection, SyncRun
from integrations.serializers import (
    ConnectSerializer,
    ListSerializer,
    RunSerializer,
    StateSerializer,
)
from integrations.tasks import start_sync, webhook_task
from tenants.context import tenant_context
from tenants.models import Tenant


def _tenant(request: Request) -> Tenant:
    return cast(Identity, request.auth).tenant


def _state(tenant: Tenant) -> dict[str, Any]:
    found = PlanningCenterConnection.objects.filter(tenant=tenant).first()
    if found is None:
        return {"connected": False}
    state = {
        "connected": True,
        "app_id": found.app_id,
        "lists": found.lists,
        "webhooks": bool(found.subscriptions),
        "connected_at": found.connected_at,
        "next_sync_at": found.next_sync_at,
    }
    last_run = SyncRun.objects.filter(tenant=tenant).first()
    return {**state, "last_run": last_run} if last_run else state


class ConnectionView(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsTenantAdmin()] if self.request.method == "GET" else [IsTenantOwner()]

    @extend_schema(responses={200: StateSerializer, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(StateSerializer(_state(_tenant(request))).data)

    @extend_schema(
        request=ConnectSerializer,
        responses={200: StateSerializer, **errors(400, 401, 403, 502)},
    )
    def put(self, request: Request) -> Response:
        ask = ConnectSerializer(data=request.data)
        ask.is_valid(raise_exception=True)
        tenant = _tenant(request)
        pco.connect(
            tenant,
            user_id=str(cast(Identity, request.auth).user_id),
            **ask.validated_data,
        )
        if ask.validated_data["lists"]:
            start_sync(tenant, SyncRun.Trigger.MANUAL)  # the people, now
        return Response(StateSerializer(_state(tenant)).data)

    @extend_schema(responses={204: OpenApiResponse(None), **errors(401, 403, 404)})
    def delete(self, request: Request) -> Response:
        pco.disconnect(_tenant(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ListsView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses={200: ListSerializer(many=True), **errors(401, 403, 404, 502)}
    )
    def get(self, request: Request) -> Response:
        return Response(
            ListSerializer(pco.available_lists(_tenant(request)), many=True).data
        )


class SyncView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=None, responses={202: RunSerializer, **errors(401, 403, 404)}
    )
    def post(self, request: Request) -> Response:
        tenant = _tenant(request)
        pco.connection_of(tenant)
        run = start_sync(tenant, SyncRun.Trigger.MANUAL)
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunListView(ListAPIView[SyncRun]):
    permission_classes = [IsTenantAdmin]
    serializer_class = RunSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[SyncRun]:
        return SyncRun.objects.filter(tenant=_tenant(self.request)).order_by(
            "-started_at", "id"
        )


class PlanningCenterWebhook(APIView):
    """Planning Center's deliveries; the URL's token names the connection."""

    uses_tenant = False
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT, **errors(403, 404, 503)},
        auth=[],
    )
    def post(self, request: Request, token: str) -> Response:
        connection = (
            PlanningCenterConnection.objects.select_related("tenant")
            .filter(webhook_token=token)
            .first()
        )
        if connection is None:
            raise NotFound()
        body = request.body
        webhooks.verify(
            connection, body, request.headers.get("X-PCO-Webhooks-Authenticity", "")
        )
        handled = 0
        tenant = connection.tenant
        found = webhooks.events(body)
        header = request.headers.get("X-PCO-Webhooks-Event-ID", "")
        if header and len(found) == 1:  # the delivery's own id names the event
            found = [(header, *found[0][1:])]
        for event_id, name, person_id in found:
            if not person_id or tenant.status != Tenant.Status.ACTIVE:
                continue
            event = webhooks.first_time(connection, event_id, name)
            if event is None:
                continue  # a redelivery
            try:
                with tenant_context(tenant):
                    webhook_task.delay(name, person_id)
            except Exception as exc:  # the broker is down: let Planning Center retry
                event.delete()
                raise ServiceUnavailable("Try again shortly.") from exc
            handled += 1
        return Response({"received": True, "handled": handled})
