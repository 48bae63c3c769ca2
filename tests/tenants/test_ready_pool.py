"""Databases made ahead: registering claims one; nothing stale, nothing leaked."""

import threading
from datetime import timedelta

import pytest
from django.db import connections as django_connections

from members.models import Member
from tenants import ready_pool
from tenants.context import tenant_context
from tenants.models import DatabaseServer, ReadyDatabase, Tenant
from tenants.provisioning import (
    ProvisioningError,
    choose_server,
    provision_tenant,
    reconcile_tenants,
)
from tenants.servers import backend_for


@pytest.fixture
def stocked(registry, settings):
    settings.TENANT_READY_POOL = 3
    server = choose_server()
    assert ready_pool.refill(server) == 3
    return server


def _names(server: DatabaseServer) -> set[str]:
    return set(
        ReadyDatabase.objects.filter(server=server, ready=True).values_list(
            "database_name", flat=True
        )
    )


def test_a_new_church_takes_a_ready_database_and_uses_it(stocked):
    before = _names(stocked)
    church = provision_tenant(name="Pooled Grace")
    assert church.status == Tenant.Status.ACTIVE
    assert church.database_name in before
    assert _names(stocked) == before - {church.database_name}
    with tenant_context(church):
        Member.objects.create(first_name="Ann", phone="+14155550111")
        assert Member.objects.count() == 1
    assert ready_pool.refill(stocked) == 1  # topped up again


def test_an_empty_pool_still_provisions(registry, settings):
    settings.TENANT_READY_POOL = 3  # but never refilled
    church = provision_tenant(name="Unpooled Grace")
    assert church.status == Tenant.Status.ACTIVE
    assert church.database_name == f"{settings.TENANT_DB_PREFIX}{church.id.hex}"


def test_a_member_older_than_the_migrations_is_never_handed_out(stocked):
    old = ReadyDatabase.objects.filter(server=stocked).first()
    ReadyDatabase.objects.filter(pk=old.pk).update(fingerprint="an older one")
    churches = [provision_tenant(name=f"Grace {i}") for i in range(3)]
    assert old.database_name not in {c.database_name for c in churches}
    ready_pool.refill(stocked)  # drops it, and makes current ones
    assert not ReadyDatabase.objects.filter(pk=old.pk).exists()
    assert old.database_name not in backend_for(stocked).list_databases()
    assert len(_names(stocked)) == 3


def test_a_failed_registration_leaks_neither_the_database_nor_the_row(stocked):
    before = _names(stocked)

    def refuse(tenant):
        raise RuntimeError("the owner could not be created")

    with pytest.raises(ProvisioningError):
        provision_tenant(name="Doomed Grace", before_activate=refuse)
    failed = Tenant.objects.get(name="Doomed Grace")
    assert failed.status == Tenant.Status.FAILED
    assert failed.database_name in before  # it had claimed one ...
    assert failed.database_name not in backend_for(stocked).list_databases()
    assert _names(stocked) == before - {failed.database_name}  # ... now gone


def test_a_refill_cut_short_is_cleaned_and_ready_members_survive(stocked):
    # A crash after the row was written and before (or during) the clone.
    name = "stuck_" + "0" * 26
    ReadyDatabase.objects.create(server=stocked, database_name=name, ready=False)
    ready = _names(stocked)
    report = reconcile_tenants(older_than=timedelta(0))
    assert name in report.pool_cleaned
    assert not ReadyDatabase.objects.filter(database_name=name).exists()
    assert _names(stocked) == ready  # not orphans: the pool owns them
    assert ready <= backend_for(stocked).list_databases()


@pytest.mark.postgres
def test_concurrent_registrations_get_distinct_databases(stocked):
    got: list[str] = []
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            got.append(provision_tenant(name=f"Race {i}").database_name)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(got)) == 5
    assert ReadyDatabase.objects.filter(server=stocked).count() == 0


def test_a_member_claimed_while_it_is_discarded_keeps_its_database(stocked):
    member = ReadyDatabase.objects.filter(server=stocked).first()
    church = provision_tenant(name="First Claim")  # takes the oldest: this one
    assert church.database_name == member.database_name
    assert ready_pool._discard(member) is False  # the claim got there first
    assert member.database_name in backend_for(stocked).list_databases()
    with tenant_context(church):
        assert Member.objects.count() == 0
