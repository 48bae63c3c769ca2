"""members.views.MemberViewSet's list/CRUD part, on the one database."""

import uuid

from django.db.models import Q
from members.phones import digits
from rest_framework import viewsets

from plainapp.models import Member
from plainapp.serializers import MemberSerializer

ORDERINGS = {"last_name", "first_name", "created_at", "updated_at", "phone", "status"}


class MemberViewSet(viewsets.ModelViewSet):
    serializer_class = MemberSerializer

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
