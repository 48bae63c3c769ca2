"""Messages from members: conversations and compliance keywords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from members.consent import INBOUND
from members.models import Member
from messaging import counts, surveys
from messaging.models import COMPLIANCE_KEY, Conversation, Message
from messaging.optout import opt_in, opt_out
from messaging.quota import count_sent, reserve
from messaging.tasks import dispatch_soon, recount_usage_soon
from sms import keywords
from sms.keywords import word
from sms.segments import count_segments
from tenants.context import on_tenant_commit, require_tenant, tenant_atomic


@dataclass
class InboundResult:
    reply: str | None = None  # a compliance reply, sent back as TwiML
    duplicate: bool = False


def _conversation(phone: str) -> Conversation:
    member = Member.objects.filter(phone=phone).first()
    conversation, created = Conversation.objects.get_or_create(
        phone=phone, defaults={"member": member}
    )
    if not created and conversation.member_id is None and member is not None:
        conversation.member = member
        conversation.save(update_fields=["member"])
    elif member is not None and conversation.member_id == member.pk:
        conversation.member = member  # already read: not read again for the thread
    return conversation


def _help_text() -> str:
    tenant = require_tenant()
    detail = tenant.help_text.strip() or "Questions? Contact the church office."
    return f"{tenant.name}: {detail} Reply STOP to opt out. Msg & data rates may apply."


def receive(
    *, sid: str, from_: str, to: str, body: str, answer_later: bool = False
) -> InboundResult:
    """Store one inbound message (once per MessageSid) and act on keywords.

    `answer_later`: the provider's request was answered long ago (a kept
    webhook replayed), so a compliance reply is queued as a message instead
    of being returned for the answer.
    """
    tenant = require_tenant()
    if Message.objects.filter(provider_sid=sid).exists():
        return InboundResult(duplicate=True)
    kind = keywords.classify(body)
    reply, asked = None, None
    try:
        # The message and what its keyword does commit together: a STOP is
        # never stored without the opt-out (a retried webhook is a duplicate).
        with tenant_atomic():
            conversation = _conversation(from_)
            info = count_segments(body)
            received = Message.objects.create(
                direction=Message.Direction.INBOUND,
                status=Message.Status.RECEIVED,
                body=body,
                segments=info.segments or 1,
                encoding=info.encoding,
                member=conversation.member,
                branch_id=_branch(conversation),
                conversation=conversation,
                to_number=to,
                from_number=from_,
                provider_sid=sid,
            )
            attention = keywords.possible_opt_out(body)
            changes = {
                "unread_count": F("unread_count") + 1,
                "status": Conversation.Status.OPEN,
                "updated_at": timezone.now(),
            }
            if attention:  # "please stop": for staff to decide, never automatic
                changes["needs_attention"] = True
            Conversation.objects.filter(pk=conversation.pk).update(**changes)
            if kind == "opt_out":
                opt_out(phone=from_, source="keyword", actor=INBOUND, detail=word(body))
                reply = (
                    f"{tenant.name}: You are unsubscribed and will get no more "
                    "messages. Reply START to resubscribe."
                )
            elif kind == "opt_in":
                opt_in(phone=from_, source="keyword", actor=INBOUND, detail=word(body))
                reply = (
                    f"{tenant.name}: You are subscribed again. Reply HELP for "
                    "help, STOP to opt out. Msg & data rates may apply."
                )
            elif kind == "help":
                reply = _help_text()
            else:  # a score, if a survey to this phone is open
                scored = surveys.answer(
                    phone=from_, body=body, member=conversation.member
                )
                if scored is not None:
                    reply, asked = scored.reply, scored.asked
            sent = None
            if reply and answer_later:
                _queue_reply(conversation, reply, to, from_, sid)
                reply = None
            elif reply:
                sent = _reply_row(
                    conversation, reply, to, from_, status=Message.Status.SENT,
                    sent_at=timezone.now(),
                )  # fmt: skip
            # Last: the counters' rows are shared by the church's every message,
            # so their locks are held only until the commit that follows.
            counts.received(received, sent, asked)
            if sent is not None:  # the reply goes out in the TwiML answer
                count_sent(sent.segments)  # the provider bills these too
    except IntegrityError:
        return InboundResult(duplicate=True)  # the same MessageSid, concurrently
    if reply:
        recount_usage_soon(timezone.now().date())
    return InboundResult(reply=reply)


def _branch(conversation: Conversation) -> uuid.UUID | None:
    return conversation.member.branch_id if conversation.member else None


def _reply_row(
    conversation: Conversation, text: str, ours: str, theirs: str, **fields: object
) -> Message:
    """The compliance reply as a row of the thread."""
    info = count_segments(text)
    return Message.objects.create(
        direction=Message.Direction.OUTBOUND,
        body=text,
        segments=info.segments,
        encoding=info.encoding,
        member=conversation.member,
        branch_id=_branch(conversation),
        conversation=conversation,
        to_number=theirs,
        from_number=ours,
        **fields,
    )


def _queue_reply(
    conversation: Conversation, text: str, ours: str, theirs: str, sid: str
) -> None:
    """The compliance reply as an outbound message, sent even to an opt-out."""
    now = timezone.now()
    reserve(count_segments(text).segments, refusable=False)
    _reply_row(
        conversation, text, ours, theirs, status=Message.Status.QUEUED,
        idempotency_key=f"{COMPLIANCE_KEY}{sid}", send_after=now,
    )  # fmt: skip
    on_tenant_commit(lambda: dispatch_soon(now))
