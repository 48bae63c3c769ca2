"""Branch writes that also touch the registry (their sending number)."""

from __future__ import annotations

from api.errors import NotFound
from branches.models import Branch
from church.numbers import claim_number, release_number
from tenants.context import require_tenant, tenant_atomic


def save_branch(*, branch: Branch, fields: dict) -> Branch:
    """Create or update a branch; its number is claimed first, released last.

    Changes of one branch take turns on its row: each replaces the number the
    branch holds once the one before it has committed, not the number it read.
    """
    tenant = require_tenant()
    old_number, claimed = None, None
    try:
        with tenant_atomic():
            if not branch._state.adding:
                locked = Branch.objects.select_for_update().filter(pk=branch.pk)
                row = locked.values("phone_number").first()
                if row is None:
                    raise NotFound()  # deleted meanwhile
                old_number = row["phone_number"]
            new_number = fields.get("phone_number", old_number)
            if new_number and new_number != old_number:
                claim_number(
                    tenant=tenant,
                    number=new_number,
                    branch_id=branch.id,
                    replacing=old_number,
                )
                claimed = new_number
            for name, value in fields.items():
                setattr(branch, name, value)
            branch.phone_number = new_number
            branch.save()
    except Exception:
        if claimed:
            release_number(tenant=tenant, number=claimed)
        raise
    if old_number and old_number != new_number:
        release_number(tenant=tenant, number=old_number)
    return branch


def delete_branch(*, branch: Branch) -> None:
    """Members keep their place in the church: their branch becomes null."""
    number = branch.phone_number
    branch.delete()
    release_number(tenant=require_tenant(), number=number)
