"""GET/PATCH/DELETE /api/tenant: the church's own settings, and its deletion."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import IsTenantAdmin, IsTenantOwner
from accounts.tokens import Identity
from api.schema import errors
from church.serializers import (
    ChurchSerializer,
    DeleteChurchSerializer,
    DeletionSerializer,
)
from church.services import delete_church, update_church
from tenants.lookup import get_tenant
from tenants.models import Tenant

if TYPE_CHECKING:
    from rest_framework.permissions import _SupportsHasPermission


class ChurchView(APIView):
    """Everyone on the staff reads; owners and admins change."""

    def get_permissions(self) -> "Sequence[_SupportsHasPermission]":
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return super().get_permissions()
        if self.request.method == "DELETE":
            return [IsTenantOwner()]
        return [IsTenantAdmin()]

    @extend_schema(responses={200: ChurchSerializer, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        tenant_id = cast(Identity, request.auth).tenant.id
        return Response(ChurchSerializer(get_tenant(tenant_id)).data)

    @extend_schema(
        request=ChurchSerializer,
        responses={200: ChurchSerializer, **errors(400, 401, 402, 403, 409)},
    )
    def patch(self, request: Request) -> Response:
        current = Tenant.objects.get(pk=cast(Identity, request.auth).tenant.id)
        serializer = ChurchSerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        updated = update_church(tenant=current, **serializer.validated_data)
        return Response(ChurchSerializer(updated).data)

    @extend_schema(
        request=DeleteChurchSerializer,
        responses={202: DeletionSerializer, **errors(400, 401, 403, 409)},
    )
    def delete(self, request: Request) -> Response:
        """Delete the church: restorable by an operator until `purge_after`."""
        identity = cast(Identity, request.auth)
        form = DeleteChurchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        tenant = delete_church(
            tenant=Tenant.objects.get(pk=identity.tenant.id),
            user=User.objects.get(pk=identity.user_id),
            **form.validated_data,
        )
        return Response(DeletionSerializer(tenant).data, status=202)
