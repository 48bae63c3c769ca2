"""Opt-out and opt-in as messaging sees them: nothing queued goes to an opt-out."""

from __future__ import annotations

from members.consent import suppress, unsuppress
from messaging.models import Message
from messaging.quota import release_queued
from tenants.context import tenant_atomic

# Twilio's "the recipient opted out at the carrier": never send to them again.
CARRIER_OPT_OUT = "21610"


def opt_out(
    *, phone: str, source: str, actor: str, detail: str = "", record: bool = True
) -> bool:
    """Suppress `phone` and cancel what is queued for it; whether it is new."""
    with tenant_atomic():
        created = suppress(
            phone=phone, source=source, actor=actor, detail=detail, record=record
        )
        release_queued(
            Message.objects.filter(
                to_number=phone, direction=Message.Direction.OUTBOUND
            ),
            error_code="opted_out",
        )
    return created


def opt_in(
    *, phone: str, source: str, actor: str, detail: str = "", record: bool = True
) -> bool:
    return unsuppress(
        phone=phone, source=source, actor=actor, detail=detail, record=record
    )
