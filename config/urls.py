from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api import api_path, json_error_view
from tenants.probes import healthz, readyz

urlpatterns = [
    path("admin/", admin.site.urls),
    api_path("healthz", healthz, name="healthz"),
    api_path("readyz", readyz, name="readyz"),
    api_path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    api_path(
        "api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"
    ),
    path("api/", include("tenants.urls")),
    path("api/", include("members.urls")),
    path("api/", include("branches.urls")),
    path("api/", include("templates_app.urls")),
    path("api/", include("messaging.urls")),
]

handler400 = json_error_view(400, "bad_request", "Bad request.")
handler403 = json_error_view(403, "permission_denied", "Permission denied.")
handler404 = json_error_view(404, "not_found", "Not found.")
handler500 = json_error_view(500, "server_error", "Something went wrong on our side.")
