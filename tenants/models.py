"""The registry's tenancy: database servers and tenants (churches)."""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import InvalidToken
from django.db import models
from django.db.models import Q
from django.utils import timezone as django_timezone

from tenants.secrets import decrypt, encrypt, generate_password


def split_password(url: str) -> tuple[str, str]:
    """`url` without its password, and the password as written in it ("" if none)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon:
        return url, ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), password


def with_password(url: str, password: str) -> str:
    """`url` (which has no password) with `password` written back into it."""
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


class DatabaseServer(models.Model):
    """A place where tenant databases are created (PostgreSQL server or SQLite dir).

    `url` names the server without its password: it is what the console shows
    and what TENANT_DB_SERVERS entries are matched by. The password (the
    server's admin credential) is kept apart, encrypted like the tenants' own
    (`tenants.secrets`), and joined back only to connect (`connection_url`).
    """

    name = models.SlugField(max_length=63, unique=True)
    url = models.CharField(max_length=500, unique=True)  # without its password
    password = models.TextField(blank=True, default="")  # encrypted
    capacity = models.PositiveIntegerField(default=5000)
    active = models.BooleanField(default=True)
    template_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def engine(self) -> str:
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"

    def stored_password(self) -> str:
        """The decrypted password ("" if none, or if the key no longer opens it)."""
        if not self.password:
            return ""
        try:
            return decrypt(self.password)
        except InvalidToken:
            return ""

    def connection_url(self) -> str:
        """The URL with its password, to connect with: never shown, never cached."""
        if not self.password:
            return self.url
        return with_password(self.url, decrypt(self.password))


def new_pepper() -> str:
    """A tenant's secret for keyed phone hashes (`tenants.privacy`), encrypted."""
    return encrypt(generate_password())


def default_quiet_hours() -> dict[str, str]:
    return {"start": "08:00", "end": "20:00"}


class TenantQuerySet(models.QuerySet["Tenant"]):
    """`next_send_at` is written here and nowhere else.

    It records when a tenant next has messages due (a schedule, a quiet-hours
    opening, a retry, a recurring occurrence, or a watchdog over batches in
    flight), so the periodic sweep finds due tenants without opening every
    tenant database.
    """

    def wake(self, tenant_id: uuid.UUID, at: dt.datetime) -> None:
        """Have the sweep come to the tenant by `at` (an earlier time stays)."""
        self.filter(pk=tenant_id).filter(
            Q(next_send_at__isnull=True) | Q(next_send_at__gt=at)
        ).update(next_send_at=at)

    def lease_due(self, now: dt.datetime, until: dt.datetime) -> list[uuid.UUID]:
        """Claim the active tenants due by `now`, each once, until `until`.

        A lease, not a clear: if the dispatch it starts is lost, the sweep
        comes back when the lease ends.
        """
        due = self.filter(status=Tenant.Status.ACTIVE, next_send_at__lte=now)
        return [
            tenant_id
            for tenant_id in due.values_list("id", flat=True)
            if self.filter(pk=tenant_id, next_send_at__lte=now).update(
                next_send_at=until
            )
        ]

    def settle(
        self, tenant_id: uuid.UUID, at: dt.datetime | None, *, lease_ends: dt.datetime
    ) -> None:
        """After a dispatch: next due at `at`, or nothing left (None).

        Replaces the sweep's lease or anything later; an earlier time that a
        concurrent send recorded meanwhile stays.
        """
        rows = self.filter(pk=tenant_id)
        if at is None:
            rows.filter(next_send_at__lte=lease_ends).update(next_send_at=None)
            return
        rows.filter(
            Q(next_send_at__isnull=True)
            | Q(next_send_at__gt=at)
            | Q(next_send_at__lte=lease_ends)
        ).update(next_send_at=at)


class ReadyDatabase(models.Model):
    """A provisioned database no tenant has yet: registration takes one.

    Written before its database is created (`ready` once it is cloned and
    current), like a tenant row, so a crash leaves a row the reconciler finds.
    """

    server = models.ForeignKey(
        DatabaseServer, on_delete=models.PROTECT, related_name="ready_databases"
    )
    database_name = models.CharField(max_length=63, unique=True)
    database_user = models.CharField(max_length=63, blank=True, default="")
    database_password = models.TextField(blank=True, default="")  # encrypted
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    ready = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        indexes = [models.Index(fields=["server", "ready", "fingerprint"])]

    def __str__(self) -> str:
        return self.database_name


class Tenant(models.Model):
    """A church. Its data lives in its own database on `server`."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        MAINTENANCE = "maintenance"  # a restore or move swapping its database
        DELETING = "deleting"  # restorable until purge_after
        DELETED = "deleted"  # a tombstone kept for billing records
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=63)
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROVISIONING
    )
    server = models.ForeignKey(
        DatabaseServer, on_delete=models.PROTECT, related_name="tenants"
    )
    # Counts the moves of its database to another server: each gives the
    # church a new connection alias, so that every process, once it reads
    # the new record, connects to the new place (the old alias just ages out).
    placement = models.PositiveIntegerField(default=0)
    database_name = models.CharField(max_length=63, unique=True)
    database_user = models.CharField(max_length=63, blank=True, default="")
    database_password = models.TextField(blank=True, default="")  # encrypted
    timezone = models.CharField(max_length=64, default="America/New_York")
    country = models.CharField(max_length=2, default="US")
    # The church's own settings live here, beside its routing data, so that a
    # request reads them with the (cached) tenant record and no extra query.
    phone_number = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    help_text = models.TextField(blank=True, default="")
    quiet_hours = models.JSONField(null=True, blank=True, default=default_quiet_hours)
    # Registration creates the owner when the tenant becomes active; a tenant
    # stuck before that is cleaned up, not finished, by the reconciler.
    awaiting_owner = models.BooleanField(default=False)
    # When this tenant next has messages due: see TenantQuerySet, its only writer.
    next_send_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Keys the phone hashes that outlive an erasure; encrypted, never shown.
    pepper = models.TextField(default=new_pepper, editable=False)
    # When a `deleting` church's database and data are removed for good.
    purge_after = models.DateTimeField(null=True, blank=True)
    # Onboarding: when the name, time zone and country were given (at
    # registration or since), when its checklist was dismissed, and when it
    # was first seen complete (the console lists churches still short of it).
    profile_set_at = models.DateTimeField(null=True, blank=True)
    onboarding_dismissed_at = models.DateTimeField(null=True, blank=True)
    onboarded_at = models.DateTimeField(null=True, blank=True)
    migration_fingerprint = models.CharField(max_length=64, blank=True, default="")
    migrated_at = models.DateTimeField(null=True, blank=True)
    migration_seconds = models.FloatField(null=True, blank=True)
    migration_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=django_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        constraints = [
            # A failed attempt or a deleted church keeps its row for the record
            # but frees the slug.
            models.UniqueConstraint(
                fields=["slug"],
                condition=~Q(status__in=["failed", "deleted"]),
                name="tenant_slug_live",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.slug

    @property
    def alias(self) -> str:
        """The connection alias of this tenant's database where it is now."""
        if self.placement:
            return f"t_{self.id.hex}_{self.placement}"
        return f"t_{self.id.hex}"

    def answers_to(self, name: object) -> bool:
        """Whether `name` (an id, its hex, or the slug) names this tenant."""
        wanted = str(name).strip().lower()
        return wanted in {str(self.id), self.id.hex, self.slug}


class PrivacyEvent(models.Model):
    """An opt-out, opt-in or erasure in a church, kept here as well as there.

    A restore from a backup older than the event re-applies it, so that nobody
    who said STOP after the backup is texted again and nobody erased comes
    back. Holds a keyed hash of the phone, never the phone.
    """

    class Kind(models.TextChoices):
        OPT_OUT = "opt_out"
        OPT_IN = "opt_in"
        ERASURE = "erasure"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="privacy_events"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    phone_hash = models.CharField(max_length=64)
    member_id = models.UUIDField(null=True, blank=True)
    source = models.CharField(max_length=20, blank=True, default="")
    actor = models.CharField(max_length=64, blank=True, default="")  # a user id
    at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tenant", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class RetiredDatabase(models.Model):
    """A copy of a tenant database kept aside, dropped by the reconciler after
    `drop_after`: the one a restore replaced (kept for --keep-old days), or one
    a restore was building when it stopped."""

    server = models.ForeignKey(
        DatabaseServer, on_delete=models.CASCADE, related_name="retired_databases"
    )
    name = models.CharField(max_length=63)
    # Dropped with it when no other database on that server needs it (a move).
    role = models.CharField(max_length=63, blank=True, default="")
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=100)
    drop_after = models.DateTimeField()
    created_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["server", "name"], name="retired_once")
        ]

    def __str__(self) -> str:
        return self.name


class PendingWebhook(models.Model):
    """A provider webhook for a church that could not take it (in maintenance,
    or its database held down), kept to be replayed in order once it can:
    the provider never sends an inbound message twice."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="pending_webhooks"
    )
    kind = models.CharField(max_length=8)  # inbound | status
    # The provider's id of what happened (MessageSid, with the status for a
    # receipt): the same webhook delivered twice is kept once.
    key = models.CharField(max_length=100, unique=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=django_timezone.now)
    # Why replaying it failed for a reason of its own (not the church being
    # unreachable): set aside, so that the church's other webhooks go on.
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "id"])]

    def __str__(self) -> str:
        return self.key
