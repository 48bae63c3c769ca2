"""Privacy requests: a member's export and erasure (`/api/members/{id}/export`,
`.../erase`, `/api/privacy/erase`; owners and admins), and the church's own
export (`/api/tenant/exports`; owners), fetched through a signed link."""

from __future__ import annotations

from typing import cast

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsTenantAdmin, IsTenantOwner
from accounts.tokens import Identity
from api.errors import DomainError, NotFound, ServiceUnavailable
from api.fields import parse_uuid
from api.schema import errors
from members.consent import actor_of
from members.models import Member
from privacy.church_export import (
    abandon,
    download_url,
    request_export,
    signed_export,
    storage,
)
from privacy.erasure import erase_member, erase_phone
from privacy.member_export import export_member
from privacy.models import ChurchExport
from privacy.serializers import ChurchExportSerializer, EraseSerializer
from privacy.tasks import build_export_task


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


class BadDownloadLink(DomainError):
    code = "invalid_signature"
    message = "This download link is not valid or has expired; ask for a new export."


def _export_answer(request: Request, export: ChurchExport) -> dict:
    answer: dict = {
        "id": export.pk,
        "status": export.status,
        "created_at": export.created_at,
    }
    url = download_url(export, request.build_absolute_uri)
    if url:
        answer |= {
            "download_url": url,
            "expires_at": export.expires_at,
            "size": export.size,
        }
    if export.status == ChurchExport.Status.FAILED:
        answer["error"] = "The export could not be built; ask for a new one."
    return ChurchExportSerializer(answer).data


class ChurchExportsView(APIView):
    permission_classes = [IsTenantOwner]

    @extend_schema(
        request=None, responses={202: ChurchExportSerializer, **errors(401, 403, 409)}
    )
    def post(self, request: Request) -> Response:
        identity = cast(Identity, request.auth)
        export = request_export(identity.tenant, user_id=identity.user_id)
        try:
            build_export_task.delay(str(export.pk))
        except Exception as exc:  # the broker is down: nothing will build it
            abandon(export, "could not be queued")
            raise ServiceUnavailable() from exc
        export.refresh_from_db()
        return Response(_export_answer(request, export), status=202)


class ChurchExportView(APIView):
    permission_classes = [IsTenantOwner]

    @extend_schema(responses={200: ChurchExportSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, pk: str) -> Response:
        export_id = parse_uuid(pk)
        export = (
            ChurchExport.objects.filter(
                pk=export_id, tenant_id=cast(Identity, request.auth).tenant.id
            ).first()
            if export_id
            else None
        )
        if export is None:
            raise NotFound("No such export.")
        return Response(_export_answer(request, export))


class ChurchExportDownloadView(APIView):
    """The signed link authorises by itself: a bearer token sent along is ignored."""

    uses_tenant = False
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("signature", str, required=True)],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            **errors(403, 404),
        },
    )
    def get(self, request: Request, pk: str) -> FileResponse:
        export = signed_export(
            parse_uuid(pk), request.query_params.get("signature", "")
        )
        if export is None:
            raise BadDownloadLink()
        try:
            handle = storage().open(export.file_name, "rb")
        except FileNotFoundError as exc:
            raise NotFound("The export's file is gone; ask for a new export.") from exc
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"church-export-{export.created_at:%Y%m%d}.zip",
            content_type="application/zip",
        )
