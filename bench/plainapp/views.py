"""members.views.MemberViewSet's list/CRUD part on the one database, its URLs."""

from django.db.models import Q
from django.http import JsonResponse
from django.urls import re_path
from rest_framework import routers, viewsets

from bench.plainapp.models import Member
from bench.plainapp.serializers import MemberSerializer, delete_member
from bench.product import Pagination, digits, parse_uuid

ORDERINGS = {"last_name", "first_name", "created_at", "updated_at", "phone", "status"}


class MemberViewSet(viewsets.ModelViewSet):
    serializer_class = MemberSerializer
    pagination_class = Pagination  # the real app's default

    def perform_destroy(self, instance: Member) -> None:
        delete_member(instance)

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


router = routers.SimpleRouter()
router.trailing_slash = "/?"
router.register("api/members", MemberViewSet, basename="member")
urlpatterns = [
    re_path(r"^healthz/?$", lambda request: JsonResponse({"status": "ok"})),
    *router.urls,
]
