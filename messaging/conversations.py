"""The team inbox: staff replies (immediate, no quiet hours, never to an
opt-out, recording who sent them), assignment, internal notes, read state."""

from __future__ import annotations

import uuid

from django.utils import timezone

from accounts.staff import is_staff
from church.numbers import holds_number, numbers_of
from members.consent import may_text
from messaging.errors import NoSendingNumber, NotStaff, RecipientOptedOut
from messaging.models import Conversation, ConversationNote, Message
from messaging.quota import reserve
from messaging.tasks import dispatch_soon
from sms.segments import count_segments
from tenants.context import on_tenant_commit, require_tenant, tenant_atomic


def _from_number(conversation: Conversation) -> str | None:
    """The number they last wrote to, else their branch's, else the church's.

    Only numbers this church still holds: one released to another church would
    route their answer into that church.
    """
    tenant = require_tenant()
    last_inbound = (
        conversation.messages.filter(direction=Message.Direction.INBOUND)
        .order_by("-created_at")
        .values_list("to_number", flat=True)
        .first()
    )
    if last_inbound and holds_number(tenant, last_inbound):
        return last_inbound
    default, by_branch = numbers_of(tenant)
    member = conversation.member
    if member is not None and member.branch_id in by_branch:
        return by_branch[member.branch_id]
    return default


def reply(
    *, conversation: Conversation, body: str, sent_by: uuid.UUID | None = None
) -> Message:
    if not may_text(conversation.phone, conversation.member):
        raise RecipientOptedOut()
    from_number = _from_number(conversation)
    if not from_number:
        raise NoSendingNumber()
    info = count_segments(body)
    now = timezone.now()
    with tenant_atomic():
        # The thread's row before the meter, as an inbound message takes them.
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=now)
        reserve(info.segments, refusable=False)  # a person is always answered
        message = Message.objects.create(
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.QUEUED,
            body=body,
            segments=info.segments,
            encoding=info.encoding,
            member=conversation.member,
            branch_id=conversation.member.branch_id if conversation.member else None,
            conversation=conversation,
            to_number=conversation.phone,
            from_number=from_number,
            idempotency_key=f"reply:{uuid.uuid4()}",
            send_after=now,
            sent_by=sent_by,
        )
        on_tenant_commit(lambda: dispatch_soon(now))
    message.refresh_from_db()  # eager tasks may have sent it already
    return message


def set_status(*, conversation: Conversation, status: str) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(status=status)


def assign(*, conversation: Conversation, assignee: uuid.UUID | None) -> None:
    """Give the thread to a staff member of this church, or to nobody (None).

    Anyone else, another church's user included, is refused alike.
    """
    if assignee is not None and not is_staff(require_tenant(), assignee):
        raise NotStaff()
    Conversation.objects.filter(pk=conversation.pk).update(assignee_id=assignee)


def add_note(
    *, conversation: Conversation, author: uuid.UUID, body: str
) -> ConversationNote:
    return ConversationNote.objects.create(
        conversation=conversation, author_id=author, body=body
    )


def mark_read(*, conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
