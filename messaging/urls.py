from api.routing import OptionalSlashRouter, api_path
from messaging import views, webhooks

router = OptionalSlashRouter()
router.register("messages/broadcasts", views.BroadcastViewSet, basename="broadcast")
router.register(
    "messages/conversations", views.ConversationViewSet, basename="conversation"
)
router.register("messages/recurring", views.RecurringViewSet, basename="recurring")
router.register("surveys", views.SurveyViewSet, basename="survey")

urlpatterns = [
    api_path("messages/send", views.SendView.as_view(), name="send"),
    api_path("messages/drafts", views.DraftView.as_view(), name="drafts"),
    api_path("messages/history", views.HistoryView.as_view(), name="history"),
    api_path(
        "webhooks/sms/inbound", webhooks.InboundWebhook.as_view(), name="sms-inbound"
    ),
    api_path(
        "webhooks/sms/status", webhooks.StatusWebhook.as_view(), name="sms-status"
    ),
    *router.urls,
]
