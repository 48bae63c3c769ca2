"""The people who log in, their roles in churches, and their login sessions.

The tables kept the names they had when these models lived in the `tenants`
app (`db_table`), so an existing registry moves over without copying a row.
"""

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.db import models
from django.utils import timezone as django_timezone

from tenants.models import Tenant


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
    # Proven by a link sent to it (verification, invitation, reset).
    email_verified = models.BooleanField(default=False)
    # Signed up with this address itself (registration), not added by others.
    registered = models.BooleanField(default=False)
    phone = models.CharField(max_length=16, blank=True, default="")  # linked, E.164
    date_joined = models.DateTimeField(default=django_timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        db_table = "tenants_user"
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
        db_table = "tenants_membership"
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class LoginSession(models.Model):
    """One login: its access and refresh tokens carry this id as `sid`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="sessions"
    )
    created_at = models.DateTimeField(default=django_timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tenants_loginsession"

    def __str__(self) -> str:
        return str(self.id)


class Revocation(models.Model):
    """A refused token (`jti:<jti>`) or login session (`sid:<sid>`)."""

    key = models.CharField(max_length=80, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "tenants_revocation"

    def __str__(self) -> str:
        return self.key


class Invitation(models.Model):
    """A church asks someone (an email) to join its staff with a role."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=8, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=django_timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.email} -> {self.tenant_id} ({self.role})"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= django_timezone.now():
            return "expired"
        return "pending"


class OneTimeLink(models.Model):
    """A link emailed to an account: verify its email, or reset its password."""

    class Purpose(models.TextChoices):
        VERIFY_EMAIL = "verify_email"
        RESET_PASSWORD = "reset_password"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="links")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=django_timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} for {self.user_id}"


class PhoneCode(models.Model):
    """A 6-digit code texted to a phone: to link it, or as a reset's second channel."""

    class Purpose(models.TextChoices):
        LINK = "link"
        RESET = "reset"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=16)
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    # The reset this code belongs to (a reset's code proves nothing for another).
    link = models.ForeignKey(
        OneTimeLink, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=django_timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.user_id}"


class RecoveryCode(models.Model):
    """One of ten single-use codes that stand in for the TOTP code."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=django_timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "code_hash"], name="recovery_code_once"
            )
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"
