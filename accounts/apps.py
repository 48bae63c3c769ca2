from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts (registry)"

    def ready(self) -> None:
        # Imported for their side effects: system checks, signal receivers and
        # the OpenAPI scheme.
        from accounts import checks, receivers, schema  # noqa: F401
