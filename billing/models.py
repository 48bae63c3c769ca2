"""Usage each church was billed for, kept in the registry for operators.

The table kept the name it had in the `tenants` app (`db_table`).
"""

from django.db import models

from tenants.models import Tenant


class UsageRollup(models.Model):
    """Each tenant's daily usage, copied here: operators need not open every tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage")
    date = models.DateField()
    messages = models.PositiveIntegerField(default=0)
    segments = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "tenants_usagerollup"
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "date"], name="usage_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.date}"
