"""members.views.MemberViewSet's list/CRUD part on the one database, its URLs."""

from django.http import JsonResponse
from django.urls import re_path
from rest_framework import routers, viewsets

from bench.plainapp.models import Member
from bench.plainapp.serializers import MemberSerializer, delete_member
from bench.product import Pagination


class MemberViewSet(viewsets.ModelViewSet):
    serializer_class = MemberSerializer
    pagination_class = Pagination  # the real app's default

    def perform_destroy(self, instance: Member) -> None:
        delete_member(instance)

    def get_queryset(self):  # the real view's, minus filters the cycle never sends
        members = Member.objects.prefetch_related("tag_links")
        return members.order_by("last_name", "first_name", "id")


router = routers.SimpleRouter()
router.trailing_slash = "/?"
router.register("api/members", MemberViewSet, basename="member")
urlpatterns = [
    re_path(r"^healthz/?$", lambda request: JsonResponse({"status": "ok"})),
    *router.urls,
]
