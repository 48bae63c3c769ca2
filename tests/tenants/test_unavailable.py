"""Which database failed decides the answer: the tenant's (503 tenant_unavailable,
the tenant held down, its server too only if the server fails its own check) or
another one's (503 service_unavailable, nothing held)."""

from django.db import OperationalError, connections
from psycopg_pool import PoolTimeout

from api.errors import ServiceUnavailable
from members.models import Member
from tenants import holds
from tenants.context import tenant_context
from tenants.errors import TenantUnavailable
from tenants.holds import unavailable


def _pool_timeout() -> OperationalError:
    error = OperationalError("couldn't get a connection after 5.00 sec")
    error.__cause__ = PoolTimeout("couldn't get a connection after 5.00 sec")
    return error


def test_a_registry_pool_timeout_inside_a_tenant_does_not_hold_its_server(alice):
    with tenant_context(alice.tenant):
        assert Member.objects.count() == 0  # the tenant's own database works
        answer = unavailable(_pool_timeout())
    assert isinstance(answer, ServiceUnavailable)
    assert not isinstance(answer, TenantUnavailable)
    assert not holds.is_held(alice.tenant.server_id)


def test_the_tenant_connection_failing_is_the_tenant_unavailable(alice):
    try:
        with tenant_context(alice.tenant):
            connections[alice.tenant.alias].errors_occurred = True
            answer = unavailable(_pool_timeout())
            assert isinstance(answer, TenantUnavailable)
            assert holds.tenant_is_held(alice.tenant.id)
            assert not holds.is_held(alice.tenant.server_id)  # the server answers
    finally:
        holds.release_tenant(alice.tenant.id)
        with tenant_context(alice.tenant):
            connections[alice.tenant.alias].errors_occurred = False


def test_a_lost_tenant_connection_that_comes_back_is_tenant_unavailable_unheld(alice):
    """A server or pooler coming back: the request's connection broke, a new
    one works; the church's database it was, but there is nothing to hold."""
    error = OperationalError("server closed the connection unexpectedly")
    error.__cause__ = ConnectionError("server closed the connection unexpectedly")
    with tenant_context(alice.tenant):
        assert Member.objects.count() == 0
        connections[alice.tenant.alias].errors_occurred = True
        answer = unavailable(error)
    assert isinstance(answer, TenantUnavailable)
    assert not holds.is_held(alice.tenant.server_id)
