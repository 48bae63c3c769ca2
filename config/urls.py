from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from accounts.console import console
from api.responses import json_error_view
from api.routing import SegmentResolver, api_path, api_routes
from telemetry.views import metrics_view
from tenants.probes import healthz, readyz

API_APPS = (
    "accounts",
    "church",
    "privacy",  # before members: /members/{id}/...
    "members",
    "branches",
    "templates_app",
    "messaging",
    "billing",
    "dashboard",
    "integrations",
)

urlpatterns = [
    # First, as most requests are the API's. One resolver for the whole API,
    # in this order: a resolver per app would raise and catch a Resolver404
    # for each app tried before the right one.
    SegmentResolver("api/", [*api_routes(*API_APPS)]),
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
]

handler400 = json_error_view("bad_request")
handler403 = json_error_view("permission_denied")
handler404 = json_error_view("not_found")
handler500 = json_error_view("server_error")
