from django.apps import AppConfig
from django.core.signals import request_finished

from tenants import checks  # noqa: F401  (registers the system checks)
from tenants.connections import release_stale_wrappers


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants (registry)"

    def ready(self) -> None:
        # After Django's close_old_connections: drop wrappers of evicted aliases.
        request_finished.connect(release_stale_wrappers, dispatch_uid="tenant-wrappers")
