"""Forgetting a person while remembering that they said STOP.

An erasure removes the member row with its tags and notes, and strips every
message to or from the phone of its body, its phone and its link to a name,
keeping the row itself (direction, status, segments, times) so that billing
and statistics still count it. What must outlive the person is kept as the
phone's keyed hash (`tenants.privacy.phone_hash`): an opt-out
(`ErasedSuppression`, so the phone stays opted out if it is added again), the
conversation (so a later text from the number starts a new thread), the
consent records, and the registry's erasure event, which a restore from an
older backup re-applies.
"""

from __future__ import annotations

import uuid

from django.db.models import Count, Q

from members.models import ConsentRecord, ErasedSuppression, Member, Suppression
from members.services import delete_members
from messaging.models import (
    Broadcast,
    Conversation,
    ConversationNote,
    Message,
    RecurringMessage,
    SurveyResponse,
)
from messaging.quota import release_queued
from tenants.context import require_tenant, tenant_atomic
from tenants.models import PendingWebhook, PrivacyEvent
from tenants.privacy import phone_hash, record_event


def erase_member(member: Member, *, actor: str, record: bool = True) -> None:
    """Erase `member` and every trace of their phone."""
    erase_phone(member.phone, actor=actor, members=[member.pk], record=record)


def erase_phone(
    phone: str,
    *,
    actor: str,
    members: list[uuid.UUID] | None = None,
    record: bool = True,
) -> None:
    """Erase every trace of `phone` (and of `members`, if given) in the church.

    `record=False` when a restore re-applies the registry's own event.
    """
    members = list(
        {
            *(members or []),
            *Member.objects.filter(phone=phone).values_list("pk", flat=True),
        }
    )
    hashed = phone_hash(phone)
    # Kept inbound messages for the church (in maintenance) hold the text too.
    PendingWebhook.objects.filter(
        tenant=require_tenant(), kind="inbound", payload__from_=phone
    ).delete()
    for member_id in (members or [None]) if record else []:
        record_event(
            PrivacyEvent.Kind.ERASURE,
            phone=phone,
            member_id=member_id,
            source="staff",
            actor=actor,
        )
    # Numbers the member had before their current one, from their records.
    earlier = set(
        ConsentRecord.objects.filter(member_id__in=members)
        .exclude(phone__in=["", phone])
        .values_list("phone", flat=True)
    )
    with tenant_atomic():
        _keep_opt_out(phone, hashed, members)
        for number in sorted(earlier):
            _keep_opt_out(number, phone_hash(number), [])
        _scrub_messages(phone, hashed, members)
        # Each record keeps the hash of the phone it was about.
        ConsentRecord.objects.filter(Q(phone=phone) | Q(member_id__in=members)).update(
            phone="", member=None
        )
        delete_members(list(Member.objects.filter(pk__in=members)))  # tags go too
        ConsentRecord.objects.bulk_create(
            ConsentRecord(
                phone_hash=hashed,
                kind=ConsentRecord.Kind.REVOKED,
                source=ConsentRecord.Source.ERASURE,
                detail=str(member_id or ""),
                actor=actor,
            )
            for member_id in members or [None]
        )


def _keep_opt_out(phone: str, hashed: str, members: list[uuid.UUID]) -> None:
    suppression = Suppression.objects.filter(phone=phone).first()
    flagged = Member.objects.filter(pk__in=members, opted_out=True).first()
    if suppression is None and flagged is None:
        return
    if suppression is not None:
        source, at = suppression.source, suppression.created_at
    else:
        source, at = "staff", flagged.updated_at
    ErasedSuppression.objects.update_or_create(
        phone_hash=hashed, defaults={"source": source, "opted_out_at": at}
    )
    Suppression.objects.filter(phone=phone).delete()


def _scrub_messages(phone: str, hashed: str, members: list[uuid.UUID]) -> None:
    threads = list(
        Conversation.objects.filter(
            Q(phone=phone) | Q(member_id__in=members)
        ).values_list("pk", flat=True)
    )
    theirs = Message.objects.filter(
        Q(to_number=phone)
        | Q(from_number=phone, direction=Message.Direction.INBOUND)
        | Q(member_id__in=members)
        | Q(conversation_id__in=threads)
    )
    # A broadcast sent to this person alone carries their words in its body.
    alone = (
        Broadcast.objects.filter(pk__in=theirs.values("broadcast_id"))
        .annotate(total=Count("messages"))
        .filter(total__lte=1)
    )
    Broadcast.objects.filter(pk__in=list(alone.values_list("pk", flat=True))).update(
        body=""
    )
    for recurring in RecurringMessage.objects.exclude(body=""):
        if _only(recurring.recipients, members):
            recurring.body = ""
            recurring.active = False
            recurring.save(update_fields=["body", "active", "updated_at"])
    outbound = Message.Direction.OUTBOUND
    # Nothing still waiting goes out to a person who asked to be forgotten.
    release_queued(theirs.filter(direction=outbound), error_code="erased")
    theirs.filter(direction=outbound).update(body="", to_number="", member=None)
    theirs.exclude(direction=outbound).update(body="", from_number="", member=None)
    ConversationNote.objects.filter(conversation_id__in=threads).delete()
    SurveyResponse.objects.filter(Q(phone=phone) | Q(member_id__in=members)).delete()
    for thread in threads:
        # The phone's hash, unless a thread of an earlier erasure of the same
        # number has it: then one keyed by the thread too (phones are unique).
        taken = Conversation.objects.filter(phone=hashed).exclude(pk=thread).exists()
        key = phone_hash(f"{phone}#{thread}") if taken else hashed
        Conversation.objects.filter(pk=thread).update(phone=key, member=None)


def _only(recipients: dict, members: list[uuid.UUID]) -> bool:
    """Whether `recipients` (a send's JSON) names one of `members` and no one else."""
    named = recipients.get("members") or []
    others = (
        recipients.get("all") or recipients.get("branches") or recipients.get("tags")
    )
    return not others and len(named) == 1 and named[0] in {str(m) for m in members}
