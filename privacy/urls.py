from api.routing import api_path
from privacy import views

urlpatterns = [
    api_path(
        r"members/(?P<pk>[^/]+)/export",
        views.MemberExportView.as_view(),
        name="member-export",
    ),
    api_path(
        r"members/(?P<pk>[^/]+)/erase",
        views.MemberEraseView.as_view(),
        name="member-erase",
    ),
    api_path("privacy/erase", views.PhoneEraseView.as_view(), name="privacy-erase"),
    api_path("tenant/exports", views.ChurchExportsView.as_view(), name="exports"),
    api_path(
        r"tenant/exports/(?P<pk>[^/]+)", views.ChurchExportView.as_view(), name="export"
    ),
    api_path(
        r"tenant/exports/(?P<pk>[^/]+)/download",
        views.ChurchExportDownloadView.as_view(),
        name="export-download",
    ),
]
