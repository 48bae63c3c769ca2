"""Church exports (registry): one zip per request, kept for a day."""

import uuid

from django.db import models
from django.db.models import Q

from tenants.models import Tenant


class ChurchExport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    requested_by = models.UUIDField(null=True, blank=True)  # a registry user id
    file_name = models.CharField(max_length=200, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One export at a time per church: a second request is a 409.
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(status__in=["queued", "running"]),
                name="one_export_running_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.status}"
