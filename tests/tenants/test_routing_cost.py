"""Routing a request to its tenant costs no SQL once the tenant record is cached."""

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tests.conftest import ON_POSTGRES


def test_a_warm_request_asks_the_registry_nothing_but_revocation(alice):
    assert alice.client.get("/api/members").status_code == 200  # warms the caches
    registry = CaptureQueriesContext(connections["default"])
    with registry:
        assert alice.client.get("/api/members").status_code == 200
    sql = [q["sql"] for q in registry.captured_queries]
    if ON_POSTGRES:  # Redis serves revocations: the registry is not asked at all
        assert sql == []
    else:  # no Redis: revocations are checked in the registry, nothing else
        assert len(sql) == 1
        assert "tenants_revocation" in sql[0]


@pytest.mark.postgres
def test_the_tenant_database_sees_only_the_views_queries(alice):
    alice.client.post(
        "/api/members", {"first_name": "A", "phone": "+14155550100"}, format="json"
    )
    alice.client.get("/api/members")
    from tenants.context import tenant_context

    with tenant_context(alice.tenant):
        tenant_db = CaptureQueriesContext(connections[alice.tenant.alias])
        with tenant_db:
            assert alice.client.get("/api/members").status_code == 200
    # count + page + tags prefetch; no SET search_path, no routing lookups
    assert len(tenant_db.captured_queries) == 3
