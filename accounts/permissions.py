"""Who may call what: a verified tenant token, and roles within the tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rest_framework.permissions import BasePermission

from accounts.models import Membership
from accounts.tokens import Identity

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class HasTenant(BasePermission):
    """Authenticated by a tenant token (the middleware entered its context)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, Identity)


class IsTenantAdmin(HasTenant):
    message = "Only an owner or admin may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        # The first operand checked that request.auth is an Identity.
        return super().has_permission(request, view) and cast(
            Identity, request.auth
        ).role in (
            Membership.Role.OWNER,
            Membership.Role.ADMIN,
        )


class IsTenantOwner(HasTenant):
    message = "Only an owner may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return (
            super().has_permission(request, view)
            and cast(Identity, request.auth).role == Membership.Role.OWNER
        )
