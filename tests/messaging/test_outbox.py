"""The outbox writer: COPY on PostgreSQL, bulk_create elsewhere, the same rows."""

import pytest
from django.db import IntegrityError

from messaging.models import Broadcast, Message
from messaging.outbox import write_outbox
from tenants.context import tenant_atomic, tenant_context


def _row(broadcast: Broadcast, key: str) -> dict:
    return {
        "direction": Message.Direction.OUTBOUND,
        "status": Message.Status.QUEUED,
        "body": "Hello {not rendered} ✓",
        "segments": 1,
        "encoding": "UCS-2",
        "broadcast_id": broadcast.pk,
        "to_number": "+14155550101",
        "idempotency_key": key,
    }


def test_rows_get_the_model_defaults_and_a_creation_time(church):
    with tenant_context(church.tenant):
        broadcast = Broadcast.objects.create(body="b", recipients={})
        write_outbox([_row(broadcast, "k1"), _row(broadcast, "k2")])
        rows = list(
            Message.objects.filter(broadcast=broadcast).order_by("idempotency_key")
        )
    assert [r.idempotency_key for r in rows] == ["k1", "k2"]
    assert len({r.pk for r in rows}) == 2  # a fresh UUID each
    assert all(r.created_at is not None for r in rows)
    assert all(r.attempts == 0 and r.from_number == "" for r in rows)
    assert all(r.provider_sid is None and r.member_id is None for r in rows)
    assert rows[0].body == "Hello {not rendered} ✓"


def test_a_failed_write_is_a_django_error_and_leaves_nothing(church):
    with tenant_context(church.tenant):
        broadcast = Broadcast.objects.create(body="b", recipients={})
        with pytest.raises(IntegrityError), tenant_atomic():
            write_outbox([_row(broadcast, "same"), _row(broadcast, "same")])
        assert not Message.objects.filter(broadcast=broadcast).exists()
