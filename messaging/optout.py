"""Opt-out is per (tenant, phone) and covers every number and branch of the tenant."""

from __future__ import annotations

from django.db import IntegrityError

from members.models import Member
from messaging.models import Message, Suppression
from tenants.context import tenant_atomic

# Twilio's "the recipient opted out at the carrier": never send to them again.
CARRIER_OPT_OUT = "21610"


def opt_out(*, phone: str, source: str) -> bool:
    """Suppress `phone`; returns whether it was newly suppressed."""
    with tenant_atomic():
        try:
            with tenant_atomic():
                Suppression.objects.create(phone=phone, source=source)
            created = True
        except IntegrityError:
            created = False
        Member.objects.filter(phone=phone).update(opted_out=True)
        # Nothing queued for them goes out any more.
        Message.objects.filter(
            to_number=phone,
            status=Message.Status.QUEUED,
            direction=Message.Direction.OUTBOUND,
        ).update(status=Message.Status.CANCELED, error_code="opted_out")
    return created


def opt_in(*, phone: str) -> bool:
    with tenant_atomic():
        deleted, _ = Suppression.objects.filter(phone=phone).delete()
        Member.objects.filter(phone=phone).update(opted_out=False)
    return bool(deleted)


def is_suppressed(phone: str) -> bool:
    return Suppression.objects.filter(phone=phone).exists()
