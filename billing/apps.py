from django.apps import AppConfig
from django.db.models.signals import post_save


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing (registry)"

    def ready(self) -> None:
        from billing import allowance, usage  # noqa: PLC0415  (models load first)
        from messaging.usage import usage_recorded  # noqa: PLC0415  (the same)
        from tenants.models import Tenant  # noqa: PLC0415  (the same)

        usage_recorded.connect(usage.record_usage, dispatch_uid="billing.usage")
        post_save.connect(
            allowance.start_trial, sender=Tenant, dispatch_uid="billing.trial"
        )
