"""Who may call what: a verified tenant token, and roles within the tenant."""

from rest_framework.permissions import BasePermission

from tenants.auth import Identity
from tenants.models import Membership


class HasTenant(BasePermission):
    """Authenticated by a tenant token (the middleware entered its context)."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Identity)


class IsTenantAdmin(HasTenant):
    message = "Only an owner or admin may do this."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.auth.role in (
            Membership.Role.OWNER,
            Membership.Role.ADMIN,
        )
