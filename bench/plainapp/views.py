"""members.views.MemberViewSet's list/CRUD part on the one database, its URLs,
and api.pagination.Pagination."""

import uuid

from django.db.models import Q
from django.http import JsonResponse
from django.urls import re_path
from rest_framework import pagination, routers, viewsets

from bench.plainapp.models import Member
from bench.plainapp.serializers import MemberSerializer
from bench.product import digits

ORDERINGS = {"last_name", "first_name", "created_at", "updated_at", "phone", "status"}


class Pagination(pagination.PageNumberPagination):
    """api.pagination.Pagination, the real app's default pagination class."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class MemberViewSet(viewsets.ModelViewSet):
    serializer_class = MemberSerializer
    pagination_class = Pagination

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
            qs = qs.filter(branch_id=branch) if _is_uuid(branch) else qs.none()
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


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


router = routers.SimpleRouter()
router.trailing_slash = "/?"
router.register("api/members", MemberViewSet, basename="member")
urlpatterns = [
    re_path(r"^healthz/?$", lambda request: JsonResponse({"status": "ok"})),
    *router.urls,
]
