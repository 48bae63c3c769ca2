"""Everything the church holds about one member, as one streamed JSON document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from members.models import ConsentRecord, Member, Suppression
from messaging.models import Conversation, ConversationNote, Message, SurveyResponse

MESSAGE_FIELDS = [
    "id",
    "direction",
    "status",
    "body",
    "to_number",
    "from_number",
    "segments",
    "broadcast_id",
    "conversation_id",
    "error_code",
    "created_at",
    "sent_at",
    "delivered_at",
]


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _member(member: Member) -> dict[str, Any]:
    return {
        "id": member.pk,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "phone": member.phone,
        "email": member.email,
        "status": member.status,
        "opted_out": member.opted_out,
        "notes": member.notes,
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    }


def export_member(member: Member) -> Iterator[str]:
    """The export document in pieces; messages stream, oldest first."""
    phone = member.phone
    branch = member.branch
    head = {
        "member": _member(member),
        "branch": {"id": branch.pk, "name": branch.name} if branch else None,
        "tags": sorted(member.tag_links.values_list("name", flat=True)),
        "consent": list(
            ConsentRecord.objects.filter(Q(member=member) | Q(phone=phone))
            .order_by("created_at", "id")
            .values("kind", "source", "detail", "actor", "created_at")
        ),
        "opt_outs": list(
            Suppression.objects.filter(phone=phone).values("source", "created_at")
        ),
        "conversations": list(
            Conversation.objects.filter(Q(phone=phone) | Q(member=member)).values(
                "id", "status", "unread_count", "created_at", "updated_at"
            )
        ),
        "survey_responses": list(
            SurveyResponse.objects.filter(
                Q(phone=phone) | Q(member_id=member.pk)
            ).values("survey_id", "score", "answered_at")
        ),
        # The team's notes on their threads are about them too.
        "notes": list(
            ConversationNote.objects.filter(
                Q(conversation__phone=phone) | Q(conversation__member=member)
            ).values("conversation_id", "body", "created_at")
        ),
        "generated_at": timezone.now(),
    }
    yield _json(head)[:-1] + ', "messages": ['
    threads = [c["id"] for c in head["conversations"]]
    messages = (
        Message.objects.filter(
            Q(to_number=phone) | Q(member=member) | Q(conversation_id__in=threads)
        )
        .order_by("created_at", "id")
        .values(*MESSAGE_FIELDS)
    )
    batch: list[str] = []
    first = True
    for row in messages.iterator(chunk_size=2000):
        batch.append(_json(row))
        if len(batch) == 500:
            yield ("" if first else ",") + ",".join(batch)
            first, batch = False, []
    if batch:
        yield ("" if first else ",") + ",".join(batch)
    yield "]}"
