"""TenantTask: the tenant travels with the task and nothing runs without one."""

import pytest

from config.celery import app
from members.models import Member
from tenants.context import NoTenantActive, tenant_atomic, tenant_context
from tenants.models import Tenant
from tests.conftest import CeleryWorker, publishing_to, worker_environment
from tests.tenants.celery_tasks import add_member


def test_a_task_sent_in_a_tenant_runs_in_that_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        result = add_member.delay("+14155550100").get()
    assert result == {"tenant": str(tenant_a.id), "members": 1}
    with tenant_context(tenant_b):
        assert Member.objects.count() == 0


def test_a_tenant_task_cannot_be_sent_without_a_tenant(registry):
    with pytest.raises(NoTenantActive):
        add_member.delay("+14155550100")


def test_a_tenant_task_without_a_tenant_header_refuses_to_run(registry):
    with pytest.raises(NoTenantActive):
        add_member.apply(args=["+14155550100"]).get()


def test_registry_code_can_address_a_tenant_explicitly(tenant_a):
    result = add_member.apply_async(
        args=["+14155550100"], headers={"tenant_id": str(tenant_a.id)}
    ).get()
    assert result["tenant"] == str(tenant_a.id)


def test_delay_on_commit_waits_for_the_tenant_transaction(tenant_a):
    with tenant_context(tenant_a):
        with tenant_atomic():
            add_member.delay_on_commit("+14155550100")
            assert Member.objects.count() == 0  # not yet: still in the transaction
        assert Member.objects.count() == 1

        try:
            with tenant_atomic():
                add_member.delay_on_commit("+14155550101")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert Member.objects.count() == 1


def test_a_suspended_tenants_tasks_are_skipped(tenant_a):
    Tenant.objects.filter(pk=tenant_a.pk).update(status=Tenant.Status.SUSPENDED)
    from tenants.lookup import invalidate_tenant

    invalidate_tenant(tenant_a.pk)
    assert (
        add_member.apply_async(
            args=["+14155550100"], headers={"tenant_id": str(tenant_a.id)}
        ).get()
        is None
    )


@pytest.fixture
def celery_worker(registry, redis_server):
    """A real worker process on a Redis broker, sharing the test databases."""
    worker = CeleryWorker(worker_environment(redis_server.url)).start()
    with publishing_to(redis_server.url):
        yield worker
    worker.stop()


def test_a_real_worker_runs_tenant_tasks_in_their_tenant(
    celery_worker, tenant_a, tenant_b
):
    with tenant_context(tenant_a):
        first = add_member.delay("+14155550100")
    with tenant_context(tenant_b):
        second = add_member.delay("+14155550100")
        third = add_member.delay("+14155550101")

    assert first.get(timeout=60) == {"tenant": str(tenant_a.id), "members": 1}
    in_b = [second.get(timeout=60), third.get(timeout=60)]
    assert {r["tenant"] for r in in_b} == {str(tenant_b.id)}
    with tenant_context(tenant_a):
        assert Member.objects.count() == 1
    with tenant_context(tenant_b):
        assert Member.objects.count() == 2

    headerless = app.send_task("tests.add_member", args=["+14155550102"])
    with pytest.raises(NoTenantActive):
        headerless.get(timeout=60)


def test_a_task_cannot_be_addressed_to_another_tenant_from_inside_one(
    tenant_a, tenant_b
):
    from tenants.context import TenantSwitchRefused

    with tenant_context(tenant_a), pytest.raises(TenantSwitchRefused):
        add_member.apply_async(args=["+1"], headers={"tenant_id": str(tenant_b.id)})
