from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy requests and church exports (registry)"

    def ready(self) -> None:
        from privacy import receivers  # noqa: F401  (connects privacy's receivers)
