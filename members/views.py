from django.db.models import Q
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.errors import PayloadTooLarge
from api.fields import parse_uuid
from api.parsers import FormParser, MultiPartParser
from members.consent import actor_of
from members.csvio import export_rows, import_members
from members.models import Member
from members.serializers import ImportSerializer, MemberSerializer
from members.services import delete_members
from sms.phones import digits

ORDERINGS = {"last_name", "first_name", "created_at", "updated_at", "phone", "status"}
MAX_IMPORT_BYTES = 10 * 1024 * 1024


class MemberViewSet(viewsets.ModelViewSet):
    serializer_class = MemberSerializer

    def perform_destroy(self, instance: Member) -> None:
        delete_members([instance])

    def get_queryset(self):
        qs = Member.objects.prefetch_related("tag_links")
        params = self.request.query_params
        if search := params.get("search", "").strip()[:100]:
            match = (
                Q(first_name__icontains=search)
                | Q(last_name__icontains=search)
                | Q(email__icontains=search)
            )
            if len(number := digits(search)) >= 3:
                match |= Q(phone__contains=number)
            qs = qs.filter(match)
        if branch := params.get("branch"):
            branch_id = parse_uuid(branch)
            qs = qs.filter(branch_id=branch_id) if branch_id else qs.none()
        if tag := params.get("tag"):
            qs = qs.filter(tag_links__name=tag)
        if status := params.get("status"):
            qs = qs.filter(status=status)
        if (opted := params.get("opted_out", "").lower()) in {"true", "false"}:
            qs = qs.filter(opted_out=opted == "true")
        ordering = params.get("ordering", "")
        if ordering.lstrip("-") in ORDERINGS:
            return qs.order_by(ordering, "id")
        return qs.order_by("last_name", "first_name", "id")

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={
            200: inline_serializer(
                "ImportReport",
                {
                    "import_id": serializers.UUIDField(),
                    "created": serializers.IntegerField(),
                    "updated": serializers.IntegerField(),
                    "skipped": serializers.IntegerField(),
                    "errors": serializers.ListField(
                        child=inline_serializer(
                            "ImportError",
                            {
                                "row": serializers.IntegerField(),
                                "message": serializers.CharField(),
                            },
                        )
                    ),
                    # Header columns the import does not know, in file order.
                    "ignored_columns": serializers.ListField(
                        child=serializers.CharField()
                    ),
                },
            )
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_csv(self, request):
        form = ImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"Files are limited to {MAX_IMPORT_BYTES} bytes.")
        report = import_members(upload.read(), actor=actor_of(request.auth.user_id))
        return Response(report.__dict__)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request):
        members = (
            Member.objects.select_related("branch")
            .prefetch_related("tag_links")
            .order_by("last_name", "first_name", "id")
        )
        response = StreamingHttpResponse(
            export_rows(members.iterator(chunk_size=1000)), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="members.csv"'
        return response
