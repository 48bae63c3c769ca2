from branches.views import BranchViewSet
from config.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("branches", BranchViewSet, basename="branch")
urlpatterns = router.urls
