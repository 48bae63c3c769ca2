import uuid

from django.db import models


class Member(models.Model):
    """A person the church texts. Phones are E.164 and unique within the church."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True, default="")
    phone = models.CharField(max_length=16, unique=True)
    email = models.CharField(max_length=254, blank=True, default="")
    branch = models.ForeignKey(
        "branches.Branch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE
    )
    opted_out = models.BooleanField(default=False)
    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["email"]),
            models.Index(fields=["status", "opted_out"]),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class MemberTag(models.Model):
    """One tag on one member (a table, so that filtering by tag uses an index)."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="tag_links"
    )
    name = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "name"], name="member_tag_unique")
        ]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name


class Suppression(models.Model):
    """A phone that opted out (STOP, or the carrier said so): nothing more is sent."""

    phone = models.CharField(max_length=16, primary_key=True)
    source = models.CharField(max_length=20)  # keyword, carrier_21610, staff
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Its table kept the name it had in the messaging app.
        db_table = "messaging_suppression"

    def __str__(self) -> str:
        return self.phone


class ErasedSuppression(models.Model):
    """An opted-out phone whose member was erased: kept only as its keyed hash."""

    phone_hash = models.CharField(max_length=64, primary_key=True)
    source = models.CharField(max_length=20)
    opted_out_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.phone_hash[:12]


class ConsentRecord(models.Model):
    """How a phone came to be texted, or stopped: one row per event, kept.

    The member link and the plain phone go when the member is erased; the
    keyed hash stays (`tenants.privacy.phone_hash`), so the record of consent
    outlives the person's data.
    """

    class Kind(models.TextChoices):
        CONSENT = "consent"
        REVOKED = "revoked"

    class Source(models.TextChoices):
        IMPORT = "import"
        STAFF = "staff"
        KEYWORD = "keyword"
        INTEGRATION = "integration"
        SURVEY = "survey"
        CARRIER = "carrier"  # the carrier reported an opt-out (Twilio 21610)
        ERASURE = "erasure"

    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
    )
    phone = models.CharField(max_length=16, blank=True, default="")
    phone_hash = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=7, choices=Kind.choices)
    source = models.CharField(max_length=11, choices=Source.choices)
    # The keyword received, or the import's id.
    detail = models.CharField(max_length=64, blank=True, default="")
    actor = models.CharField(max_length=64)  # a registry user id, or "inbound"
    # The member's branch then: where an opt-out counts in the statistics.
    branch_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["phone"])]

    def __str__(self) -> str:
        return f"{self.kind} ({self.source})"


class ExternalLink(models.Model):
    """A member's identity in an outside system (a Planning Center person id).

    Not a foreign key: the link outlives a deleted or erased member, so that a
    sync knows the person was here (an erased one is never re-created).
    """

    source = models.CharField(max_length=20)
    external_id = models.CharField(max_length=64)
    member_id = models.UUIDField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="external_link_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"
