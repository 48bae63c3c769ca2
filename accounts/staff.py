"""The people of one church: add, change and remove staff (memberships)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet

from accounts import revocation
from accounts.errors import (
    AlreadyOnStaff,
    LastOwner,
    NotOnStaff,
    OwnersOnly,
    SharedAccount,
)
from accounts.models import Membership, User
from tenants.models import Tenant

Role = Membership.Role


def staff_of(tenant: Tenant) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("user")
        .filter(tenant=tenant)
        .order_by("user__email")
    )


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


def add_staff(
    *,
    tenant: Tenant,
    actor_role: str,
    email: str,
    role: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """Give a person a role here, creating their account if they have none.

    The answer is the same whether or not the email already has an account (no
    way to probe which emails exist); an existing account keeps its password
    and name, which only its owner changes.
    """
    _guard_owner_change(actor_role, role)
    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email, password, first_name=first_name, last_name=last_name
            )
        elif Membership.objects.filter(user=user, tenant=tenant).exists():
            raise AlreadyOnStaff()
        return Membership.objects.create(user=user, tenant=tenant, role=role)


def change_staff(
    *,
    tenant: Tenant,
    actor_role: str,
    user_id: uuid.UUID | str,
    role: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> Membership:
    with transaction.atomic():
        membership = get_member(tenant=tenant, user_id=user_id)
        if role is not None and role != membership.role:
            _guard_owner_change(actor_role, role, membership.role)
            if membership.role == Role.OWNER and not _owners_left(
                tenant, membership.user_id
            ):
                raise LastOwner("The last owner cannot be demoted.")
            membership.role = role
            membership.save(update_fields=["role"])
            # Tokens carry the role: the old ones must not outlive the change.
            revocation.revoke_user_sessions(membership.user_id, tenant_id=tenant.id)
        user = membership.user
        changed = [
            (field, value)
            for field, value in (("first_name", first_name), ("last_name", last_name))
            if value is not None and value != getattr(user, field)
        ]
        if changed:
            if Membership.objects.filter(user=user).exclude(tenant=tenant).exists():
                # The account is shared with another church: not ours to rename.
                raise SharedAccount()
            for field, value in changed:
                setattr(user, field, value)
            user.save(update_fields=[field for field, _ in changed])
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
