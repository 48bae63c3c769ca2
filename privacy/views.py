"""A member's privacy requests: `/api/members/{id}/export`, `.../erase`,
`/api/privacy/erase`. Owners and admins only."""

from __future__ import annotations

from typing import cast

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantAdmin
from accounts.tokens import Identity
from api.errors import NotFound
from api.fields import parse_uuid
from api.schema import errors
from members.consent import actor_of
from members.models import Member
from privacy.erasure import erase_member, erase_phone
from privacy.member_export import export_member
from privacy.serializers import EraseSerializer


def _member(pk: str) -> Member:
    member_id = parse_uuid(pk)
    member = (
        Member.objects.select_related("branch").filter(pk=member_id).first()
        if member_id
        else None
    )
    if member is None:
        raise NotFound("No such member.")
    return member


def _actor(request: Request) -> str:
    return actor_of(cast(Identity, request.auth).user_id)


class MemberExportView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            **errors(401, 403, 404),
        }
    )
    def get(self, request: Request, pk: str) -> StreamingHttpResponse:
        member = _member(pk)
        response = StreamingHttpResponse(
            export_member(member), content_type="application/json"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="member-{member.pk}.json"'
        )
        return response


class MemberEraseView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses={204: None, **errors(401, 403, 404)})
    def post(self, request: Request, pk: str) -> Response:
        erase_member(_member(pk), actor=_actor(request))
        return Response(status=204)


class PhoneEraseView(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=EraseSerializer, responses={204: None, **errors(400, 401, 403)}
    )
    def post(self, request: Request) -> Response:
        form = EraseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        erase_phone(form.validated_data["phone"], actor=_actor(request))
        return Response(status=204)
