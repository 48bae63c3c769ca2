from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups and restores (registry)"

    def ready(self) -> None:
        from backups import receivers  # noqa: F401  (connects backups' receivers)
