"""The people of one church: their roles, and removing them (new staff are invited)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet

from accounts import revocation
from accounts.errors import LastOwner, NotOnStaff, OwnersOnly
from accounts.models import Membership
from tenants.models import Tenant

Role = Membership.Role


def staff_of(tenant: Tenant) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("user")
        .filter(tenant=tenant)
        .order_by("user__email")
    )


def is_staff(tenant: Tenant, user_id: uuid.UUID) -> bool:
    """Whether the user serves this church (an active account with a membership)."""
    return Membership.objects.filter(
        tenant=tenant, user_id=user_id, user__is_active=True
    ).exists()


def get_member(*, tenant: Tenant, user_id: uuid.UUID | str) -> Membership:
    try:
        return staff_of(tenant).get(user_id=user_id)
    except (Membership.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise NotOnStaff() from exc


def _guard_owner_change(actor_role: str, *roles: str) -> None:
    if Role.OWNER in roles and actor_role != Role.OWNER:
        raise OwnersOnly()


def _owners_left(tenant: Tenant, excluding: uuid.UUID) -> int:
    # Locks the owners so that two owners cannot demote each other at once.
    owners = Membership.objects.select_for_update().filter(
        tenant=tenant, role=Role.OWNER
    )
    return sum(1 for m in owners if m.user_id != excluding)


def change_role(
    *, tenant: Tenant, actor_role: str, user_id: uuid.UUID | str, role: str
) -> Membership:
    """A person's role here; their name and password are their own."""
    with transaction.atomic():
        membership = get_member(tenant=tenant, user_id=user_id)
        if role != membership.role:
            _guard_owner_change(actor_role, role, membership.role)
            if membership.role == Role.OWNER and not _owners_left(
                tenant, membership.user_id
            ):
                raise LastOwner("The last owner cannot be demoted.")
            membership.role = role
            membership.save(update_fields=["role"])
            # Tokens carry the role: the old ones must not outlive the change.
            revocation.revoke_user_sessions(membership.user_id, tenant_id=tenant.id)
    return membership


def remove_staff(*, tenant: Tenant, actor_role: str, user_id: uuid.UUID | str) -> None:
    with transaction.atomic():
        membership = get_member(tenant=tenant, user_id=user_id)
        _guard_owner_change(actor_role, membership.role)
        if membership.role == Role.OWNER and not _owners_left(
            tenant, membership.user_id
        ):
            raise LastOwner("The last owner cannot be removed.")
        membership.delete()
        revocation.revoke_user_sessions(membership.user_id, tenant_id=tenant.id)
