from django.apps import AppConfig


class ChurchConfig(AppConfig):
    name = "church"
    verbose_name = "Church settings and sending numbers (registry)"

    def ready(self) -> None:
        from church import receivers  # noqa: F401  (connects church's receivers)
