"""A provisioning killed at any step leaves nothing the reconciler does not mend."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tenants import provisioning
from tenants.context import tenant_context
from tenants.migrating import is_current
from tenants.models import Tenant
from tenants.provisioning import provision_tenant, reconcile_tenants
from tenants.servers import backend_for, tenant_database_pattern
from tests.conftest import make_tenant

STEPS = ["placed", "database_created", "migrated", "activated"]


class Killed(BaseException):
    """Stands for SIGKILL: no `except Exception` cleanup runs."""


def crash_at(step: str):
    def hook(name: str, tenant: Tenant) -> None:
        if name == step:
            raise Killed(step)

    return hook


def assert_nothing_half_made() -> None:
    """Every tenant is active with a current database, or deleting (restorable)
    with its database, or failed or deleted with none."""
    pattern = tenant_database_pattern()
    for tenant in Tenant.objects.select_related("server"):
        exists = backend_for(tenant.server).database_exists(tenant.database_name)
        if tenant.status == Tenant.Status.ACTIVE:
            assert exists, tenant
            with tenant_context(tenant):
                assert is_current(tenant.alias)
        elif tenant.status == Tenant.Status.DELETING:
            assert exists, tenant
        else:
            assert tenant.status in (Tenant.Status.FAILED, Tenant.Status.DELETED)
            assert not exists, tenant
    live = set(
        Tenant.objects.filter(
            status__in=[Tenant.Status.ACTIVE, Tenant.Status.DELETING]
        ).values_list("database_name", flat=True)
    )
    for tenant in Tenant.objects.select_related("server")[:1]:
        present = {
            n for n in backend_for(tenant.server).list_databases() if pattern.match(n)
        }
        assert present == live


@pytest.mark.parametrize("step", STEPS)
def test_reconciler_mends_a_provisioning_killed_at_each_step(
    registry, monkeypatch, step
):
    make_tenant("Bystander")
    monkeypatch.setattr(provisioning, "step_hooks", [crash_at(step)])

    with pytest.raises(Killed):
        provision_tenant(name="Interrupted")
    monkeypatch.setattr(provisioning, "step_hooks", [])

    report = reconcile_tenants(older_than=timedelta(0))

    assert report.errors == []
    assert_nothing_half_made()
    interrupted = Tenant.objects.get(name="Interrupted")
    if step == "placed":
        assert interrupted.status == Tenant.Status.FAILED
        assert report.failed == [interrupted.slug]
    else:  # the database was complete: the reconciler finishes the job
        assert interrupted.status == Tenant.Status.ACTIVE


def test_a_young_provisioning_is_left_alone(registry, monkeypatch):
    monkeypatch.setattr(provisioning, "step_hooks", [crash_at("database_created")])
    with pytest.raises(Killed):
        provision_tenant(name="In flight")
    monkeypatch.setattr(provisioning, "step_hooks", [])

    report = reconcile_tenants(older_than=timedelta(minutes=10))

    tenant = Tenant.objects.get(name="In flight")
    assert tenant.status == Tenant.Status.PROVISIONING
    assert backend_for(tenant.server).database_exists(tenant.database_name)
    assert report.orphans_dropped == []


def test_orphans_and_churches_past_their_grace_are_dropped_not_before(registry):
    keep = make_tenant("Keep")
    orphan = make_tenant("Orphan")
    doomed = make_tenant("Doomed")
    graced = make_tenant("Graced")
    Tenant.objects.filter(pk=orphan.pk).delete()  # its row is gone, its DB is not
    now = timezone.now()
    Tenant.objects.filter(pk=doomed.pk).update(
        status=Tenant.Status.DELETING, purge_after=now - timedelta(seconds=1)
    )
    Tenant.objects.filter(pk=graced.pk).update(
        status=Tenant.Status.DELETING, purge_after=now + timedelta(days=1)
    )

    call_command("reconcile_tenants", "--older-than", "0")

    backend = backend_for(keep.server)
    assert backend.database_exists(keep.database_name)
    assert not backend.database_exists(orphan.database_name)
    assert not backend.database_exists(doomed.database_name)
    assert backend.database_exists(graced.database_name)  # still restorable
    doomed.refresh_from_db()
    assert (doomed.status, doomed.name) == (Tenant.Status.DELETED, "")
    assert_nothing_half_made()


def test_discarding_never_touches_a_tenant_that_became_active(registry):
    from tenants.provisioning import discard_tenant

    tenant = make_tenant("Active")
    assert discard_tenant(tenant) is False
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    assert backend_for(tenant.server).database_exists(tenant.database_name)
