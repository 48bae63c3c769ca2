"""Each church's billed usage per day, kept in the registry for operators."""

from __future__ import annotations

import datetime as dt

from billing.models import UsageRollup
from tenants.models import Tenant


def record_usage(
    *, tenant: Tenant, day: dt.date, messages: int, segments: int, **signal: object
) -> None:
    """Set the church's totals for `day` (recomputed by messaging, never added to)."""
    UsageRollup.objects.update_or_create(
        tenant=tenant, date=day, defaults={"messages": messages, "segments": segments}
    )
