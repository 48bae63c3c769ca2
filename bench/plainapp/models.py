"""The real members.Member / MemberTag and branches.Branch, on the same tables;
stand-ins for the tables a member's writes touch in the real app (the three
that reference one, each a SET NULL statement on delete; the suppression list;
the daily statistics). Tables are made by `migrate --run-syncdb`; Meta indexes
get the real ones' names. No `__str__`: the baseline never shows a row as text."""
# ruff: noqa: DJ008

import uuid

from django.db import models


class Branch(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        db_table = "branches_branch"
        ordering = ["name"]


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True, default="")
    phone = models.CharField(max_length=16, unique=True)
    email = models.CharField(max_length=254, blank=True, default="")
    branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE
    )
    opted_out = models.BooleanField(default=False)
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "members_member"
        ordering = ["last_name", "first_name"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["email"]),
            models.Index(fields=["status", "opted_out"]),
        ]


class MemberTag(models.Model):
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="tag_links"
    )
    name = models.CharField(max_length=50)

    class Meta:
        db_table = "members_membertag"
        constraints = [
            models.UniqueConstraint(fields=["member", "name"], name="member_tag_unique")
        ]
        indexes = [models.Index(fields=["name"])]


def seed(rows: list[dict]) -> None:
    """Members from `rows`, every other one tagged `seeded` (as bench.crud seeds)."""
    made = Member.objects.bulk_create(Member(**row) for row in rows)
    MemberTag.objects.bulk_create(MemberTag(member=m, name="seeded") for m in made[::2])


def member_link(name: str) -> models.ForeignKey:
    return models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name=name
    )


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = models.CharField(max_length=16, unique=True)
    member = member_link("conversations")

    class Meta:
        db_table = "messaging_conversation"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    body = models.TextField()
    member = member_link("messages")

    class Meta:
        db_table = "messaging_message"


class Suppression(models.Model):
    phone = models.CharField(max_length=16, primary_key=True)
    source = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "messaging_suppression"


class ConsentRecord(models.Model):
    member = member_link("consent_records")
    phone = models.CharField(max_length=16, blank=True, default="")
    phone_hash = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=7)
    source = models.CharField(max_length=11)
    actor = models.CharField(max_length=64)
    branch_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "members_consentrecord"


class DailyStat(models.Model):
    day = models.DateField()
    branch = models.UUIDField()
    new_members = models.IntegerField(default=0)

    class Meta:
        db_table = "stats_dailystat"
        unique_together = [("day", "branch")]
