from django.apps import AppConfig
from django.core.signals import request_finished

from tenants import checks  # noqa: F401  (registers the system checks)
from tenants.connections import (
    check_static_connections_per_request,
    release_stale_wrappers,
)


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants (registry)"

    def ready(self) -> None:
        # Tenant connections are checked as their context ends: a request
        # need not walk every one the thread keeps (tenants.connections).
        check_static_connections_per_request()
        # After that: drop wrappers of evicted aliases.
        request_finished.connect(release_stale_wrappers, dispatch_uid="tenant-wrappers")
