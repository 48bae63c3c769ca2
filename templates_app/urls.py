from api.routing import OptionalSlashRouter
from templates_app.views import TemplateViewSet

router = OptionalSlashRouter()
router.register("templates", TemplateViewSet, basename="template")
urlpatterns = router.urls
