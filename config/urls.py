from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from accounts.console import console
from api.responses import json_error_view
from api.routing import api_path
from telemetry.views import metrics_view
from tenants.probes import healthz, readyz

urlpatterns = [
    path("admin/", console.urls),
    api_path("healthz", healthz, name="healthz"),
    api_path("readyz", readyz, name="readyz"),
    api_path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    api_path(
        "api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"
    ),
    api_path(
        "api/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"
    ),
    api_path("metrics", metrics_view, name="metrics"),
    path("api/browser/", include("accounts.browser_urls")),
    path("api/", include("accounts.urls")),
    path("api/", include("church.urls")),
    path("api/", include("privacy.urls")),  # before members: /members/{id}/...
    path("api/", include("members.urls")),
    path("api/", include("branches.urls")),
    path("api/", include("templates_app.urls")),
    path("api/", include("messaging.urls")),
    path("api/", include("billing.urls")),
    path("api/", include("dashboard.urls")),
    path("api/", include("integrations.urls")),
]

handler400 = json_error_view("bad_request")
handler403 = json_error_view("permission_denied")
handler404 = json_error_view("not_found")
handler500 = json_error_view("server_error")
