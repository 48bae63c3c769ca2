from api.routing import api_path
from billing import views

urlpatterns = [
    api_path("billing", views.BillingView.as_view(), name="billing"),
    api_path("billing/plans", views.PlansView.as_view(), name="billing-plans"),
    api_path("billing/usage", views.UsageView.as_view(), name="billing-usage"),
    api_path("billing/subscribe", views.SubscribeView.as_view(), name="subscribe"),
    api_path("billing/portal", views.PortalView.as_view(), name="billing-portal"),
    api_path("billing/invoices", views.InvoiceListView.as_view(), name="invoices"),
    api_path(
        r"billing/invoices/(?P<pk>[^/]+)", views.InvoiceView.as_view(), name="invoice"
    ),
    api_path("webhooks/stripe", views.StripeWebhook.as_view(), name="stripe-webhook"),
]
