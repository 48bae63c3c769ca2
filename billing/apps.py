from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing (registry)"

    def ready(self) -> None:
        from billing import usage  # noqa: PLC0415  (models are loaded only now)
        from messaging.usage import usage_recorded  # noqa: PLC0415  (the same)

        usage_recorded.connect(usage.record_usage, dispatch_uid="billing.usage")
