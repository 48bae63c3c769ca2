"""What the tenancy layer refuses, in the API's terms."""

from api.errors import DomainError


class TenantUnavailable(DomainError):
    code = "tenant_unavailable"
    message = "This church's database is unreachable; try again shortly."
    headers = {"Retry-After": "30"}
