from api.routing import api_path
from church.views import ChurchView

urlpatterns = [api_path("tenant", ChurchView.as_view(), name="tenant")]
