"""The church's own settings: name, time zone, country, number, help, quiet hours."""

from __future__ import annotations

from typing import cast

from django.db import transaction

from church.numbers import claim_number, release_number
from tenants.lookup import invalidate_tenant
from tenants.models import Tenant

EDITABLE = ("name", "timezone", "country", "phone_number", "help_text", "quiet_hours")


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
                )
            release_number(tenant=row, number=row.phone_number)
        for field, value in changes.items():
            setattr(row, field, value)
        row.save(update_fields=[*changes, "updated_at"])
    invalidate_tenant(row.pk)
    return row
