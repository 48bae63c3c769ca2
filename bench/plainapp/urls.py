from django.http import JsonResponse
from django.urls import re_path
from rest_framework.routers import SimpleRouter

from plainapp.views import MemberViewSet


class OptionalSlashRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


def healthz(request):
    return JsonResponse({"status": "ok"})


router = OptionalSlashRouter()
router.register("api/members", MemberViewSet, basename="member")
urlpatterns = [re_path(r"^healthz/?$", healthz), *router.urls]
