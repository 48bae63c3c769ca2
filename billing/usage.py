"""Recording sent segments: per tenant per day, and a registry rollup for operators."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F

from billing.models import DailyUsage
from tenants.context import require_tenant, tenant_atomic
from tenants.models import UsageRollup


def record_usage(*, messages: int, segments: int, day: dt.date) -> None:
    """Add to today's counters in the tenant database and in the registry."""
    if not messages and not segments:
        return
    tenant = require_tenant()
    with tenant_atomic():
        _add(DailyUsage.objects, {"date": day}, messages, segments)
    with transaction.atomic():
        _add(UsageRollup.objects, {"tenant": tenant, "date": day}, messages, segments)


def _add(manager, key: dict, messages: int, segments: int) -> None:
    changes = {
        "messages": F("messages") + messages,
        "segments": F("segments") + segments,
    }
    if manager.filter(**key).update(**changes):
        return
    try:
        with transaction.atomic(using=manager.db):
            manager.create(**key, messages=messages, segments=segments)
    except IntegrityError:  # created concurrently: add to it instead
        manager.filter(**key).update(**changes)
