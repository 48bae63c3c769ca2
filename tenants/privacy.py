"""Keyed phone hashes and the registry's record of opt-outs and erasures.

A phone that must be remembered without being kept (an erased member who had
said STOP, an erasure a restore must re-apply) is kept as
HMAC-SHA256(pepper, E.164), the pepper being the church's own secret: the
hash matches the same phone in the same church and nothing else, and is
useless without the registry's key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from functools import lru_cache

from django.db.models import QuerySet

from tenants.context import require_tenant
from tenants.models import PrivacyEvent, Tenant
from tenants.secrets import decrypt


@lru_cache(maxsize=1024)
def _key(encrypted_pepper: str) -> bytes:
    return decrypt(encrypted_pepper).encode()


def phone_hash(phone: str, tenant: Tenant | None = None) -> str:
    """The keyed hash of `phone` in `tenant` (the current one by default)."""
    tenant = tenant or require_tenant()
    return hmac.new(_key(tenant.pepper), phone.encode(), hashlib.sha256).hexdigest()


def record_event(
    kind: str,
    *,
    phone: str,
    source: str = "",
    actor: str = "",
    member_id: uuid.UUID | None = None,
    tenant: Tenant | None = None,
) -> None:
    """Note an opt-out, opt-in or erasure in the registry.

    Written before the church's own transaction commits: if that transaction
    fails, the registry holds one event too many, which a restore applies to a
    phone that is already in that state (an extra opt-out fails closed).
    """
    tenant = tenant or require_tenant()
    PrivacyEvent.objects.create(
        tenant_id=tenant.pk,
        kind=kind,
        phone_hash=phone_hash(phone, tenant),
        member_id=member_id,
        source=source,
        actor=actor,
    )


def events_since(tenant: Tenant, at: dt.datetime) -> QuerySet[PrivacyEvent]:
    """The tenant's events at or after `at`, oldest first."""
    return PrivacyEvent.objects.filter(tenant=tenant, at__gte=at).order_by("at", "id")
