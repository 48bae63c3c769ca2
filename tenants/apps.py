from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants (registry)"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from tenants import checks, schema  # noqa: F401  (registers checks, schema)
        from tenants.connections import release_stale_wrappers

        # After Django's close_old_connections: drop wrappers of evicted aliases.
        request_finished.connect(release_stale_wrappers, dispatch_uid="tenant-wrappers")
