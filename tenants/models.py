"""The registry: database servers, tenants, the people who log in, sending numbers."""

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.db import models
from django.db.models import Q
from django.utils import timezone as django_timezone


class DatabaseServer(models.Model):
    """A place where tenant databases are created (PostgreSQL server or SQLite dir)."""

    name = models.SlugField(max_length=63, unique=True)
    url = models.CharField(max_length=500, unique=True)
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

    @property
    def safe_url(self) -> str:
        """The URL without its password, for display."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))


def default_quiet_hours() -> dict[str, str]:
    return {"start": "08:00", "end": "20:00"}


class Tenant(models.Model):
    """A church. Its data lives in its own database on `server`."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        DELETING = "deleting"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=63)
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROVISIONING
    )
    plan = models.CharField(max_length=32, default="starter")
    server = models.ForeignKey(
        DatabaseServer, on_delete=models.PROTECT, related_name="tenants"
    )
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
    # When this tenant next has messages due (quiet hours, schedules, retries):
    # the minutely sweep looks here instead of opening every tenant database.
    next_send_at = models.DateTimeField(null=True, blank=True, db_index=True)
    migration_fingerprint = models.CharField(max_length=64, blank=True, default="")
    migrated_at = models.DateTimeField(null=True, blank=True)
    migration_seconds = models.FloatField(null=True, blank=True)
    migration_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=django_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            # A failed attempt keeps its row for the record but frees the slug.
            models.UniqueConstraint(
                fields=["slug"], condition=~Q(status="failed"), name="tenant_slug_live"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.slug

    @property
    def alias(self) -> str:
        """The stable connection alias of this tenant's database."""
        return f"t_{self.id.hex}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(
        self, email: str, password: str | None = None, **extra: Any
    ) -> "User":
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(
        self, email: str, password: str | None = None, **extra: Any
    ) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who logs in: church staff (via memberships) and operators (is_staff)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    mfa_secret = models.TextField(blank=True, default="")  # encrypted
    mfa_enabled = models.BooleanField(default=False)
    mfa_last_step = models.BigIntegerField(null=True, blank=True)
    date_joined = models.DateTimeField(default=django_timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Membership(models.Model):
    """A user's role in one tenant; a user may belong to several."""

    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        STAFF = "staff"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class SendingNumber(models.Model):
    """A number that sends for one tenant; inbound messages find their tenant here."""

    number = models.CharField(max_length=16, primary_key=True)  # E.164
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="numbers")
    # The tenant-side branch id (a plain id: no foreign keys across databases).
    branch_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now)

    def __str__(self) -> str:
        return self.number


class LoginSession(models.Model):
    """One login: its access and refresh tokens carry this id as `sid`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="sessions"
    )
    created_at = models.DateTimeField(default=django_timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.id)


class Revocation(models.Model):
    """A refused token (`jti:<jti>`) or login session (`sid:<sid>`)."""

    key = models.CharField(max_length=80, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key


class UsageRollup(models.Model):
    """Each tenant's daily usage, copied here: operators need not open every tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage")
    date = models.DateField()
    messages = models.PositiveIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "date"], name="usage_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.date}"
