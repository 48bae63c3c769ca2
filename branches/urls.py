from api.routing import OptionalSlashRouter
from branches.views import BranchViewSet

router = OptionalSlashRouter()
router.register("branches", BranchViewSet, basename="branch")
urlpatterns = router.urls
