"""A church's Planning Center connection and its sync runs (registry).

In the registry because a webhook arrives with no token: its URL's random
`webhook_token` names the connection, so the church, before any tenant is
entered. Secrets (the application secret, each subscription's authenticity
secret) are kept encrypted (`tenants.secrets`).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class PlanningCenterConnection(models.Model):
    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="planning_center"
    )
    app_id = models.CharField(max_length=200)
    secret = models.TextField()  # encrypted
    lists = models.JSONField(default=list)  # [{"id", "name"}] chosen to sync
    webhook_token = models.CharField(max_length=64, unique=True)
    # [{"id", "name", "secret" (encrypted)}]: Planning Center's subscriptions
    subscriptions = models.JSONField(default=list)
    connected_by = models.CharField(max_length=64)  # a user id
    connected_at = models.DateTimeField(default=timezone.now)
    next_sync_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Planning Center of {self.tenant_id}"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        NIGHTLY = "nightly"
        MANUAL = "manual"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="planning_center_runs"
    )
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    status = models.CharField(
        max_length=9, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the run until then, and moves it on with each page; a run
    # whose holder stopped (a crash) is taken over after it passes.
    lease_until = models.DateTimeField()
    holder = models.CharField(max_length=16, blank=True, default="")
    lists = models.JSONField(default=list)  # the lists as the run found them
    # Where to go on: {"list": index into lists, "next": a page's address}
    cursor = models.JSONField(default=dict)
    seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict)  # {reason: count}
    errors = models.JSONField(default=list)  # [message]
    requests = models.PositiveIntegerField(default=0)  # to Planning Center
    attempts = models.PositiveSmallIntegerField(default=0)  # workers that took it

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "-started_at"])]
        constraints = [
            # Two runs for one church never overlap.
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(status="running"),
                name="one_running_sync_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"sync {self.status} at {self.started_at:%Y-%m-%d %H:%M}"


class SyncPage(models.Model):
    """The people one page of a list held: a resumed run still knows who was
    on the list before it stopped (those not on it lose its tag at the end)."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="pages")
    list_id = models.CharField(max_length=64)
    person_ids = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{len(self.person_ids)} people of list {self.list_id}"


class WebhookEvent(models.Model):
    """A Planning Center delivery already handled (its `X-PCO-Webhooks-Event-ID`)."""

    connection = models.ForeignKey(
        PlanningCenterConnection, on_delete=models.CASCADE, related_name="events"
    )
    event_id = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_id"], name="pco_event_once"
            )
        ]

    def __str__(self) -> str:
        return self.name
