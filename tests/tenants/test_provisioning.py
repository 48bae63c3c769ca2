"""provision_tenant(): placement, template clone, slow path, failure, states."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connections as django_connections

from accounts.models import User
from members.models import Member
from tenants import provisioning
from tenants.context import tenant_context
from tenants.migrating import current_fingerprint
from tenants.models import DatabaseServer, Tenant
from tenants.provisioning import ProvisioningBusy, ProvisioningError, provision_tenant
from tenants.servers import backend_for, tenant_database_pattern
from tests.accounts.conftest import register
from tests.conftest import make_tenant


def tenant_databases(server: DatabaseServer) -> set[str]:
    pattern = tenant_database_pattern()
    return {n for n in backend_for(server).list_databases() if pattern.match(n)}


def test_a_new_tenant_is_active_with_a_migrated_database(registry):
    tenant = make_tenant("St. Mark's Church")

    assert tenant.status == Tenant.Status.ACTIVE
    assert tenant.slug == "st-marks-church"
    assert tenant.migration_fingerprint == current_fingerprint()
    assert backend_for(tenant.server).database_exists(tenant.database_name)
    with tenant_context(tenant):
        Member.objects.create(first_name="Ann", phone="+14155550100")
        assert Member.objects.count() == 1


def test_the_template_is_built_once_and_then_cloned(registry, monkeypatch):
    first = make_tenant("First")
    server = DatabaseServer.objects.get(pk=first.server_id)
    assert server.template_fingerprint == current_fingerprint()

    calls = []
    monkeypatch.setattr("tenants.provisioning.migrate_alias", calls.append)
    make_tenant("Second")
    assert calls == []  # the clone was already current: no migrate ran


def test_without_a_usable_template_it_creates_and_migrates(registry, monkeypatch):
    def broken_clone(self, **kwargs):
        raise RuntimeError("template unusable")

    backend = type(backend_for(DatabaseServer(url=_server_url())))
    monkeypatch.setattr(backend, "clone_template", broken_clone)

    tenant = make_tenant("Slow Path")

    assert tenant.status == Tenant.Status.ACTIVE
    with tenant_context(tenant):
        assert Member.objects.count() == 0


def _server_url() -> str:
    from django.conf import settings

    return settings.TENANT_DB_SERVERS[0]


def test_a_failure_leaves_no_database_and_frees_the_slug(registry, monkeypatch):
    def broken_migrate(alias):
        raise RuntimeError("disk full")

    monkeypatch.setattr("tenants.provisioning.is_current", lambda alias: False)
    monkeypatch.setattr("tenants.provisioning.migrate_alias", broken_migrate)

    with pytest.raises(ProvisioningError, match="disk full"):
        provision_tenant(name="Doomed", slug="doomed")

    failed = Tenant.objects.get(slug="doomed")
    assert failed.status == Tenant.Status.FAILED
    assert not backend_for(failed.server).database_exists(failed.database_name)
    assert tenant_databases(failed.server) == set()

    monkeypatch.undo()
    retried = provision_tenant(name="Doomed", slug="doomed")
    assert retried.status == Tenant.Status.ACTIVE


def test_duplicate_and_invalid_slugs_are_refused_without_side_effects(registry):
    make_tenant("Taken", slug="taken")
    before = Tenant.objects.count()

    with pytest.raises(ProvisioningError, match="taken"):
        provision_tenant(name="Other", slug="taken")
    with pytest.raises(ProvisioningError, match="not a valid slug"):
        provision_tenant(name="Other", slug="Not A Slug!")

    assert Tenant.objects.count() == before


def test_same_names_get_distinct_slugs(registry):
    slugs = {make_tenant("Grace Church").slug for _ in range(3)}
    assert len(slugs) == 3


def test_an_unreachable_server_fails_cleanly(registry):
    from tests.conftest import ON_POSTGRES, free_port

    if ON_POSTGRES:
        url = f"postgres://postgres@127.0.0.1:{free_port()}"
    else:
        url = "sqlite:////proc/no-such-dir/tenants"
    dead = DatabaseServer.objects.create(name="dead", url=url, capacity=10)

    with pytest.raises(ProvisioningError):
        provision_tenant(name="Nowhere", server=dead)

    assert not Tenant.objects.filter(status=Tenant.Status.ACTIVE).exists()
    assert Tenant.objects.get(name="Nowhere").status == Tenant.Status.FAILED


def test_placement_picks_the_active_server_with_most_room(registry):
    make_tenant("Seed")  # registers the configured server
    configured = DatabaseServer.objects.get()
    roomy = DatabaseServer.objects.create(
        name="roomy", url=configured.url + "?roomy", capacity=10_000
    )
    configured.capacity = 5
    configured.save()

    from tenants.provisioning import choose_server

    assert choose_server() == roomy
    roomy.active = False
    roomy.save()
    assert choose_server() == configured


def test_no_room_anywhere_is_a_clear_error(registry):
    make_tenant("Seed")
    DatabaseServer.objects.update(capacity=1)
    with pytest.raises(ProvisioningError, match="room"):
        provision_tenant(name="One too many")


def test_a_hundred_concurrent_provisionings_each_succeed_or_are_refused_cleanly(
    registry,
):
    """The contract under a burst, whatever the machine's speed: each one is an
    active tenant with its database, or a ProvisioningBusy that left nothing."""
    start = threading.Barrier(100)

    def provision(i: int) -> Tenant | ProvisioningBusy:
        try:
            start.wait()
            return provision_tenant(name="Concurrent Church")
        except ProvisioningBusy as exc:
            return exc
        finally:
            django_connections.close_all()

    with ThreadPoolExecutor(max_workers=100) as pool:
        outcomes = list(pool.map(provision, range(100)))

    tenants = [o for o in outcomes if isinstance(o, Tenant)]
    assert len(tenants) >= settings.PROVISIONING_CONCURRENCY  # the burst made progress
    assert all(t.status == Tenant.Status.ACTIVE for t in tenants)
    assert len({t.slug for t in tenants}) == len(tenants)
    server = DatabaseServer.objects.get()
    assert tenant_databases(server) == {t.database_name for t in tenants}
    # A refused one left no row behind, not even a failed one.
    assert Tenant.objects.count() == len(tenants)


@pytest.fixture
def one_slot(monkeypatch):
    """Provisioning admits one at a time, the slot held by the test, no queue."""
    gate = provisioning._Admission(slots=1, queue=0, wait=0)
    monkeypatch.setattr(provisioning, "admission", gate)
    return gate


def test_past_the_queue_a_registration_is_a_clean_503_and_makes_nothing(
    registry, anon, one_slot
):
    with one_slot():
        refused = register(anon)
    assert refused.status_code == 503, refused.content
    assert refused.json()["code"] == "provisioning_failed"
    assert refused["Retry-After"]
    assert not Tenant.objects.exists()
    assert not User.objects.exists()
    assert not any(tenant_databases(s) for s in DatabaseServer.objects.all())

    again = register(anon)
    assert again.status_code == 201, again.content


def test_a_queued_provisioning_waits_for_a_slot_and_gives_up_after_the_wait(
    registry, monkeypatch
):
    gate = provisioning._Admission(slots=1, queue=1, wait=0.05)
    monkeypatch.setattr(provisioning, "admission", gate)
    with gate(), pytest.raises(ProvisioningBusy, match="busy"):
        provision_tenant(name="Waited")
    assert provision_tenant(name="Waited").status == Tenant.Status.ACTIVE
