"""The church's own settings (name, time zone, country, number, help, quiet
hours), and its deletion by its owner."""

from __future__ import annotations

from typing import cast

from django.db import transaction
from django.utils import timezone as django_timezone

from accounts.mfa import accept_second_factor, check_password
from accounts.models import User
from api.errors import Conflict, InvalidInput
from church.numbers import claim_number, release_number
from tenants.lifecycle import start_deletion
from tenants.lookup import invalidate_tenant
from tenants.models import Tenant
from tenants.services import InvalidTransition

EDITABLE = ("name", "timezone", "country", "phone_number", "help_text", "quiet_hours")
PROFILE = {"name", "timezone", "country"}


def update_church(*, tenant: Tenant, **changes: object) -> Tenant:
    """Apply validated changes; the sending number moves in the registry's map."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        row = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if "phone_number" in changes and changes["phone_number"] != row.phone_number:
            if changes["phone_number"]:
                claim_number(
                    tenant=row,
                    number=cast(str, changes["phone_number"]),
                    branch_id=None,
                    replacing=row.phone_number,
                )
            release_number(tenant=row, number=row.phone_number)
        for field, value in changes.items():
            setattr(row, field, value)
        fields = [*changes, "updated_at"]
        if PROFILE & set(changes):
            row.profile_set_at = django_timezone.now()  # onboarding's `profile`
            fields.append("profile_set_at")
        row.save(update_fields=fields)
    invalidate_tenant(row.pk)
    return row


def delete_church(
    *, tenant: Tenant, user: User, confirm: str, password: str = "", code: str = ""
) -> Tenant:
    """The owner's own deletion: the slug typed again and the person proven
    again (password, or an MFA code), then `deleting` with its grace period."""
    if confirm != tenant.slug:
        raise InvalidInput(
            fields={"confirm": [f"Type the church's slug, {tenant.slug}, to confirm."]}
        )
    if code and not password:
        if not accept_second_factor(user, code):
            raise InvalidInput(fields={"code": ["The code is wrong."]})
    else:
        check_password(user, password)
    try:
        return start_deletion(tenant, by=user.email)
    except InvalidTransition as exc:  # deleted a moment ago (a second click)
        raise Conflict(str(exc)) from exc
