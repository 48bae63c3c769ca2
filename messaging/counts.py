"""What messaging adds to the church's daily statistics (`stats.rollup`).

A message counts as sent on the day it went to the provider; its delivery,
failure or answer on that same day, however late the news arrives; a message
received on the day it came. Each is called in the transaction of the change.
"""

from __future__ import annotations

import datetime as dt

from messaging.models import Message
from stats.rollup import bump, local_day, send_day

OUTCOMES = {
    Message.Status.DELIVERED: "delivered",
    Message.Status.UNDELIVERED: "undelivered",
    Message.Status.FAILED: "failed",
}
# A broadcast message its recipient texts back within this long counts as answered.
ANSWER_WINDOW = dt.timedelta(hours=72)


def day_of(message: Message) -> dt.date:
    return send_day(message.sent_at, message.attempted_at, message.created_at)


def sent(message: Message) -> None:
    """`message` was just handed to the provider (its `sent_at` is set)."""
    assert message.sent_at is not None
    bump(
        local_day(message.sent_at),
        message.branch_id,
        messages_sent=1,
        segments=message.segments,
    )


def finished(message: Message, status: str) -> None:
    """`message` just reached `status`; only outcomes count."""
    name = OUTCOMES.get(status)  # type: ignore[call-overload]
    if name is None:
        return
    delivered = status == Message.Status.DELIVERED and message.broadcast_id
    bump(
        day_of(message),
        message.branch_id,
        **{name: 1, "broadcast_delivered": 1 if delivered else 0},
    )


def received(
    message: Message, reply: Message | None = None, asked: Message | None = None
) -> None:
    """An inbound message was stored: counted, and the broadcast it answers
    (`asked` when known: a survey's question), with the `reply` sent in the
    answer to its webhook, if any.

    The day's rows are shared by every message of the church: they are bumped
    last, so that their locks are held for as short a time as can be.
    """
    since = message.created_at - ANSWER_WINDOW
    answered = (
        asked
        if asked is not None and asked.sent_at and asked.sent_at >= since
        else Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            broadcast__isnull=False,
            to_number=message.from_number,
            sent_at__gte=since,
            sent_at__lte=message.created_at,
        )
        .order_by("-sent_at")
        .first()
    )
    if (
        answered is not None
        and answered.answered_at is None
        and Message.objects.filter(pk=answered.pk, answered_at__isnull=True).update(
            answered_at=message.created_at
        )
    ):
        bump(day_of(answered), answered.branch_id, replies=1)
    day, also = local_day(message.created_at), {}
    if reply is not None and reply.sent_at is not None:
        if local_day(reply.sent_at) == day and reply.branch_id == message.branch_id:
            also = {"messages_sent": 1, "segments": reply.segments}  # one upsert
        else:
            sent(reply)
    bump(day, message.branch_id, inbound=1, **also)
