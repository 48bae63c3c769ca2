"""Broadcasts, messages (outbox and inbox), conversations, recurrence, daily usage."""

import uuid

from django.db import models
from django.db.models import Q

# The idempotency key's prefix of a compliance reply sent as a message (not in
# the provider's answer): delivered even to the phone that just opted out, as
# the confirmation of its STOP.
COMPLIANCE_KEY = "compliance:"


class Broadcast(models.Model):
    """One send to many members; expanded into one Message per recipient."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SCHEDULED = "scheduled"
        CANCELED = "canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    body = models.TextField()
    template_id = models.UUIDField(null=True, blank=True)
    recipients = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    recurring_id = models.UUIDField(null=True, blank=True)
    created_by = models.UUIDField(null=True, blank=True)  # a registry user id
    recipient_count = models.PositiveIntegerField(default=0)
    opted_out_skipped = models.PositiveIntegerField(default=0)
    inactive_skipped = models.PositiveIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"])]

    def __str__(self) -> str:
        return str(self.id)


class Conversation(models.Model):
    """The thread with one phone number."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # E.164; after an erasure, the phone's keyed hash (so a later text from
    # the same number starts a new thread).
    phone = models.CharField(max_length=64, unique=True)
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    # The staff member working the thread: a registry user id (another database).
    assignee_id = models.UUIDField(null=True, blank=True)
    # Shared by the team: /read clears it for everyone.
    unread_count = models.PositiveIntegerField(default=0)
    needs_attention = models.BooleanField(default=False)  # e.g. "please stop"
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["-updated_at"]),
            models.Index(fields=["assignee_id", "-updated_at"]),
        ]

    def __str__(self) -> str:
        return self.phone


class ConversationNote(models.Model):
    """An internal note on a thread, for the team: never sent to the member."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="notes"
    )
    author_id = models.UUIDField()  # a registry user id
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"note on {self.conversation_id}"


class Message(models.Model):
    """An SMS in or out. Outbound rows are the outbox: written before sending."""

    class Direction(models.TextChoices):
        OUTBOUND = "outbound"
        INBOUND = "inbound"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        UNDELIVERED = "undelivered"
        FAILED = "failed"
        CANCELED = "canceled"
        RECEIVED = "received"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    status = models.CharField(max_length=11, choices=Status.choices)
    body = models.TextField()
    segments = models.PositiveSmallIntegerField(default=1)
    encoding = models.CharField(max_length=5, default="GSM-7")
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    broadcast = models.ForeignKey(
        Broadcast,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
    )
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    to_number = models.CharField(max_length=16)
    from_number = models.CharField(max_length=16, blank=True, default="")
    # One key per (broadcast, member): a retried or redelivered task finds the
    # row it already wrote instead of messaging the recipient again.
    idempotency_key = models.CharField(
        max_length=100, null=True, blank=True, unique=True
    )
    provider_sid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    error_code = models.CharField(max_length=16, blank=True, default="")
    sent_by = models.UUIDField(null=True, blank=True)  # the staff user who replied
    # The member's branch when the message was written: its statistics' branch.
    branch_id = models.UUIDField(null=True, blank=True)
    # A broadcast message its recipient answered within 72 h (statistics).
    answered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    send_after = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"]),
            models.Index(fields=["direction", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["member", "-created_at"]),
            models.Index(fields=["broadcast", "status"]),
            models.Index(fields=["sent_at"]),
            models.Index(fields=["to_number"]),  # opt-outs and erasures
            models.Index(
                fields=["send_after"],
                name="message_due",
                condition=Q(status__in=["queued", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.to_number}"


class RecurringMessage(models.Model):
    """A broadcast repeated daily, weekly or monthly at a local time."""

    class Frequency(models.TextChoices):
        DAILY = "daily"
        WEEKLY = "weekly"
        MONTHLY = "monthly"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    body = models.TextField(blank=True, default="")
    template_id = models.UUIDField(null=True, blank=True)
    recipients = models.JSONField(default=dict)
    frequency = models.CharField(max_length=7, choices=Frequency.choices)
    time = models.TimeField()
    weekday = models.PositiveSmallIntegerField(null=True, blank=True)  # 0 = Monday
    day = models.PositiveSmallIntegerField(null=True, blank=True)  # 1..31
    timezone = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    # Occurrences billing refused (skipped_quota, skipped_billing), the last one's.
    skipped_count = models.PositiveIntegerField(default=0)
    last_skipped_at = models.DateTimeField(null=True, blank=True)
    last_skip_reason = models.CharField(max_length=20, blank=True, default="")
    created_by = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.frequency} at {self.time}"


class RecurringRun(models.Model):
    """One occurrence; the unique key makes two schedulers send it once."""

    recurring = models.ForeignKey(
        RecurringMessage, on_delete=models.CASCADE, related_name="runs"
    )
    scheduled_for = models.DateTimeField()
    broadcast = models.ForeignKey(Broadcast, null=True, on_delete=models.SET_NULL)
    outcome = models.CharField(max_length=20, default="sent")  # or skipped_...
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recurring", "scheduled_for"], name="recurring_run_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recurring_id} at {self.scheduled_for}"


class DailyUsage(models.Model):
    """Messages and segments sent by this church on one (UTC) day: what is billed."""

    date = models.DateField(unique=True)
    messages = models.PositiveIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date}: {self.segments}"


class SegmentMeter(models.Model):
    """This church's segments against its allowance: one row, kept in step with
    the messages by the same transactions that change them (`messaging.quota`)."""

    period_start = models.DateTimeField(null=True, blank=True)
    used = models.PositiveIntegerField(default=0)  # sent since period_start
    reserved = models.PositiveIntegerField(default=0)  # queued or sending
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.used} used, {self.reserved} reserved"


class Survey(models.Model):
    """A 0-10 question sent like a broadcast; replies while open are scores."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    question = models.TextField()
    broadcast = models.OneToOneField(
        Broadcast, on_delete=models.CASCADE, related_name="survey"
    )
    # The thank-you each category gets (9-10 promoter, 7-8 passive, 0-6 detractor).
    promoter_reply = models.TextField()
    passive_reply = models.TextField()
    detractor_reply = models.TextField()
    closes_at = models.DateTimeField()
    skipped_recent = models.PositiveIntegerField(default=0)  # surveyed lately
    created_by = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class SurveyResponse(models.Model):
    """A recipient's score: the last valid reply while the survey was open."""

    class Category(models.TextChoices):
        PROMOTER = "promoter"
        PASSIVE = "passive"
        DETRACTOR = "detractor"

    survey = models.ForeignKey(
        Survey, on_delete=models.CASCADE, related_name="responses"
    )
    phone = models.CharField(max_length=64)  # E.164 (a keyed hash once erased)
    # The member's id and branch then: plain ids, so that deleting a member
    # costs no statement here (results read them by id).
    member_id = models.UUIDField(null=True, blank=True)
    branch_id = models.UUIDField(null=True, blank=True)
    score = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=9, choices=Category.choices)
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "phone"], name="one_score_each")
        ]

    def __str__(self) -> str:
        return f"{self.score} for {self.survey_id}"
