"""Sending numbers: each belongs to one church, so inbound messages can be routed.

`tenant_for_number` is a door from outside input into a tenant, for the
provider's webhooks (the other door is the verified token,
`accounts.tokens.identity_from_token`).

How many numbers a church may hold is its plan's business: `claiming_number`
is sent, with the count the church would hold, before a new number is
recorded; a receiver refuses by raising (billing connects one).
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.dispatch import Signal

from church.errors import NumberTaken, SlotChanged
from church.models import SendingNumber
from tenants.models import Tenant

# Sent with `tenant` and `holding`: the numbers it would hold with this one.
claiming_number = Signal()


def claim_number(
    *,
    tenant: Tenant,
    number: str,
    branch_id: uuid.UUID | None,
    replacing: str | None = None,
) -> None:
    """Record `number` as sending for `tenant` (the church itself, or one branch).

    `replacing` is the number the slot (the church's own, or the branch's) holds
    now, released by the caller afterwards: a replacement adds no number, so
    no limit refuses it.
    """
    existing = SendingNumber.objects.filter(number=number).first()
    if existing is not None:
        if existing.tenant_id == tenant.id and existing.branch_id == branch_id:
            return
        raise NumberTaken()
    try:
        with transaction.atomic():
            # The church's row is the lock: two claims at once count in turn.
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            held = list(
                SendingNumber.objects.filter(tenant=tenant).values_list(
                    "number", "branch_id"
                )
            )
            in_slot = [n for n, slot in held if slot == branch_id]
            if replacing and in_slot and replacing not in in_slot:
                raise SlotChanged()  # another change of this slot came first
            # A replacement is the slot's only number now; a second change of
            # the same slot before the first released its number adds one.
            if not replacing or in_slot != [replacing]:
                claiming_number.send(  # one number more
                    sender=SendingNumber, tenant=tenant, holding=len(held) + 1
                )
            SendingNumber.objects.create(
                number=number, tenant=tenant, branch_id=branch_id
            )
    except IntegrityError as exc:  # claimed at the same moment elsewhere
        raise NumberTaken() from exc


def release_number(*, tenant: Tenant, number: str | None) -> None:
    if number:
        SendingNumber.objects.filter(number=number, tenant=tenant).delete()


def tenant_for_number(number: str) -> Tenant | None:
    """The tenant a number sends for (active or not; callers check the status)."""
    row = (
        SendingNumber.objects.select_related("tenant", "tenant__server")
        .filter(number=number)
        .first()
    )
    return None if row is None else row.tenant


def numbers_of(tenant: Tenant) -> tuple[str | None, dict[uuid.UUID, str]]:
    """The church's default number and its branches' numbers (the registry's view)."""
    by_branch: dict[uuid.UUID, str] = {}
    default = None
    for number, branch_id in SendingNumber.objects.filter(tenant=tenant).values_list(
        "number", "branch_id"
    ):
        if branch_id is None:
            default = number
        else:
            by_branch[branch_id] = number
    return default, by_branch


def holds_number(tenant: Tenant, number: str) -> bool:
    """Whether `number` still sends for `tenant` (it may have been released since)."""
    return SendingNumber.objects.filter(tenant=tenant, number=number).exists()
