"""Backups of church databases (registry): what was written where, and checked how."""

import uuid

from django.db import models

from tenants.models import Tenant


class Backup(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="backups")
    # When the dump began: everything committed before it is in the backup.
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    engine = models.CharField(max_length=10)  # postgresql | sqlite
    database_name = models.CharField(max_length=63)
    file_name = models.CharField(max_length=200)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # The church's migration state when it was dumped (Tenant.migration_fingerprint).
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    tool_version = models.CharField(max_length=100)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.tenant_id} at {self.started_at:%Y-%m-%d %H:%M}"
