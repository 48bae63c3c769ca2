from api.routing import api_path
from integrations import views

urlpatterns = [
    api_path(
        "integrations/planning-center",
        views.ConnectionView.as_view(),
        name="planning-center",
    ),
    api_path(
        "integrations/planning-center/lists",
        views.ListsView.as_view(),
        name="planning-center-lists",
    ),
    api_path(
        "integrations/planning-center/sync",
        views.SyncView.as_view(),
        name="planning-center-sync",
    ),
    api_path(
        "integrations/planning-center/runs",
        views.RunListView.as_view(),
        name="planning-center-runs",
    ),
    api_path(
        r"webhooks/planning-center/(?P<token>[A-Za-z0-9_-]{1,64})",
        views.PlanningCenterWebhook.as_view(),
        name="planning-center-webhook",
    ),
]
