"""TenantTask: the tenant travels with the task and nothing runs without one."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connections as django_connections

from config.celery import app
from members.models import Member
from tenants.context import NoTenantActive, tenant_atomic, tenant_context
from tenants.models import Tenant
from tests.conftest import ROOT
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
    registry_db = django_connections["default"].settings_dict
    if registry_db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{registry_db['NAME']}"
    else:
        database_url = (
            f"postgres://{registry_db['USER']}@{registry_db['HOST']}:"
            f"{registry_db['PORT']}/{registry_db['NAME']}"
        )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TENANT_DB_SERVERS": ",".join(django_settings.TENANT_DB_SERVERS),
        "TENANT_DB_PREFIX": django_settings.TENANT_DB_PREFIX,
        "CELERY_BROKER_URL": redis_server.url,
        "CELERY_RESULT_BACKEND": redis_server.url,
        "REDIS_URL": "",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-I",
            "tests.tenants.celery_tasks",
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "-l",
            "warning",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
    )
    previous = {
        k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")
    }
    _use_conf(
        broker_url=redis_server.url,
        result_backend=redis_server.url,
        task_always_eager=False,
    )
    try:
        yield worker
    finally:
        app.pool.force_close_all()
        _use_conf(**previous)
        worker.terminate()
        worker.wait(timeout=30)


def _use_conf(**conf) -> None:
    """Point the app elsewhere: its producer pool and result backend are cached."""
    app.conf.update(conf)
    app._pool = None
    app.amqp._producer_pool = None  # eager sends acquire a producer too
    app._local.__dict__.pop("backend", None)


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
