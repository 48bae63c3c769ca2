from api.routing import OptionalSlashRouter
from members.views import MemberViewSet

router = OptionalSlashRouter()
router.register("members", MemberViewSet, basename="member")
urlpatterns = router.urls
