"""Sending numbers: which church each of our numbers sends for (a registry table).

The table kept the name it had in the `tenants` app (`db_table`).
"""

from django.db import models
from django.utils import timezone as django_timezone

from tenants.models import Tenant


class SendingNumber(models.Model):
    """A number that sends for one tenant; inbound messages find their tenant here."""

    number = models.CharField(max_length=16, primary_key=True)  # E.164
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="numbers")
    # The tenant-side branch id (a plain id: no foreign keys across databases).
    branch_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        db_table = "tenants_sendingnumber"

    def __str__(self) -> str:
        return self.number
