"""History counts: exact while cheap, the planner's estimate on huge tables."""

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from api.pagination import EstimatingPaginator
from messaging.models import Message
from tenants.context import tenant_context


def fill(tenant, n: int) -> None:
    with tenant_context(tenant):
        Message.objects.bulk_create(
            [
                Message(
                    direction="inbound",
                    status="received",
                    body=f"m{i}",
                    to_number="+14155550000",
                    from_number="+14155550101",
                )
                for i in range(n)
            ]
        )


def test_counts_are_exact_below_the_threshold(alice):
    fill(alice.tenant, 25)
    body = alice.client.get("/api/messages/history?page_size=10").json()
    assert body["count"] == 25
    assert (
        alice.client.get("/api/messages/history?page=4&page_size=10").status_code == 404
    )


@pytest.mark.postgres
def test_above_the_threshold_the_count_is_estimated_without_counting(
    alice, monkeypatch
):
    fill(alice.tenant, 300)
    with tenant_context(alice.tenant), connections[alice.tenant.alias].cursor() as c:
        c.execute("ANALYZE messaging_message")
    monkeypatch.setattr(EstimatingPaginator, "ESTIMATE_ABOVE", 100)
    with tenant_context(alice.tenant):
        queries = CaptureQueriesContext(connections[alice.tenant.alias])
        with queries:
            paginator = EstimatingPaginator(Message.objects.order_by("-created_at"), 20)
            count = paginator.count
    assert 200 < count < 400  # the statistics' view of 300 rows
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert alice.client.get("/api/messages/history").status_code == 200
