"""Opt-outs, opt-ins and erasures made after a backup, applied to its restore.

The registry keeps each as the phone's keyed hash (`tenants.PrivacyEvent`);
the restored database is searched for the phones with those hashes. An
opt-out whose phone is not in the backup at all is kept as its hash
(`ErasedSuppression`), so that the phone is refused if it is ever added: a
restore never texts someone who said STOP after the backup, and never brings
back someone who was erased.
"""

from __future__ import annotations

import datetime as dt

from members.models import ErasedSuppression, Member, Suppression
from messaging.models import Conversation, Message
from messaging.optout import opt_in, opt_out
from privacy.erasure import erase_member, erase_phone
from tenants.models import PrivacyEvent, Tenant
from tenants.privacy import events_since, phone_hash

ACTOR = "restore"


def _known_phones() -> dict[str, str]:
    """Every phone the (current) church database holds, by its keyed hash."""
    phones: set[str] = set(Member.objects.values_list("phone", flat=True))
    phones |= set(Suppression.objects.values_list("phone", flat=True))
    phones |= {
        p
        for p in Conversation.objects.values_list("phone", flat=True)
        if p.startswith("+")
    }
    phones |= set(
        Message.objects.filter(direction=Message.Direction.OUTBOUND)
        .exclude(to_number="")
        .values_list("to_number", flat=True)
        .distinct()
    )
    phones |= set(
        Message.objects.filter(direction=Message.Direction.INBOUND)
        .exclude(from_number="")
        .values_list("from_number", flat=True)
        .distinct()
    )
    return {phone_hash(phone): phone for phone in phones}


def reapply_events(tenant: Tenant, since: dt.datetime) -> int:
    """Apply `tenant`'s registry events from `since` on, in order, to the
    database of the current context; returns how many were applied."""
    events = list(events_since(tenant, since))
    if not events:
        return 0
    phones = _known_phones()
    for event in events:
        phone = phones.get(event.phone_hash)
        if event.kind == PrivacyEvent.Kind.OPT_OUT:
            if phone:
                opt_out(
                    phone=phone,
                    source=event.source or "keyword",
                    actor=ACTOR,
                    record=False,
                )
            else:
                ErasedSuppression.objects.update_or_create(
                    phone_hash=event.phone_hash,
                    defaults={
                        "source": event.source or "keyword",
                        "opted_out_at": event.at,
                    },
                )
        elif event.kind == PrivacyEvent.Kind.OPT_IN:
            if phone:
                opt_in(
                    phone=phone,
                    source=event.source or "keyword",
                    actor=ACTOR,
                    record=False,
                )
            else:
                ErasedSuppression.objects.filter(phone_hash=event.phone_hash).delete()
        elif event.kind == PrivacyEvent.Kind.ERASURE:
            actor = event.actor or ACTOR
            if phone:
                erase_phone(phone, actor=actor, record=False, members=_members(event))
            elif event.member_id and (
                member := Member.objects.filter(pk=event.member_id).first()
            ):
                erase_member(member, actor=actor, record=False)
    return len(events)


def _members(event: PrivacyEvent) -> list:
    return [event.member_id] if event.member_id else []
