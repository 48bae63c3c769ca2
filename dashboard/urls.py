from api.routing import api_path
from dashboard import views

urlpatterns = [
    api_path("onboarding", views.OnboardingView.as_view(), name="onboarding"),
    api_path("stats", views.StatsView.as_view(), name="stats"),
    api_path("stats/summary", views.SummaryView.as_view(), name="stats-summary"),
    api_path(
        "onboarding/dismiss",
        views.DismissOnboardingView.as_view(),
        name="onboarding-dismiss",
    ),
]
