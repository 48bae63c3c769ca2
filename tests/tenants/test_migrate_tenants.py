"""migrate_tenants: template first, then every tenant; failures stay isolated."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connections as django_connections

from tenants.context import tenant_context
from tenants.migrating import current_fingerprint, migrate_tenants
from tenants.models import DatabaseServer, Tenant
from tenants.servers import backend_for
from tenants.servers.base import template_name
from tests.conftest import make_tenant

EXTRA = {"templates_app": "tests.tenants.extra_migrations.templates_app"}
TABLE = "templates_app_extranote"


def tables(tenant) -> set[str]:
    with tenant_context(tenant):
        return set(django_connections[tenant.alias].introspection.table_names())


@pytest.fixture
def own_template(settings, registry):
    """This test changes the template: give it a prefix (and template) of its own."""
    settings.TENANT_DB_PREFIX = settings.TENANT_DB_PREFIX + "m_"
    yield
    for server in DatabaseServer.objects.all():
        backend = backend_for(server)
        if server.engine == "postgresql":
            with backend._connect() as conn:
                conn.execute(f'ALTER DATABASE "{template_name()}" IS_TEMPLATE false')
                conn.execute(
                    f'DROP DATABASE IF EXISTS "{template_name()}" WITH (FORCE)'
                )
                conn.execute(f'DROP ROLE IF EXISTS "{backend.template_owner}"')
        else:
            backend.drop_database(name=template_name())


def test_a_new_migration_reaches_every_tenant_and_a_broken_one_is_isolated(
    own_template, settings, capsys
):
    tenants = [make_tenant(f"Church {i}") for i in range(4)]
    old = current_fingerprint()
    settings.MIGRATION_MODULES = EXTRA
    assert current_fingerprint() != old

    broken = tenants[1]
    with tenant_context(broken), django_connections[broken.alias].cursor() as cur:
        cur.execute(f"CREATE TABLE {TABLE} (id integer)")  # the migration will clash

    with pytest.raises(CommandError, match=broken.slug):
        call_command("migrate_tenants", "--parallel", "2")

    for tenant in tenants:
        tenant.refresh_from_db()
        if tenant == broken:
            assert tenant.migration_fingerprint == old
            assert "already exists" in tenant.migration_error
        else:
            assert tenant.migration_fingerprint == current_fingerprint()
            assert tenant.migration_error == ""
            assert TABLE in tables(tenant)
    server = DatabaseServer.objects.get()
    assert server.template_fingerprint == current_fingerprint()
    newcomer = make_tenant("Newcomer")  # cloned from the migrated template
    assert TABLE in tables(newcomer)

    with tenant_context(broken), django_connections[broken.alias].cursor() as cur:
        cur.execute(f"DROP TABLE {TABLE}")  # the operator fixes it
    capsys.readouterr()
    call_command("migrate_tenants")

    out = capsys.readouterr().out
    assert f"migrated {broken.slug}" in out
    assert "1 migrated, 0 failed, 4 already current" in out
    broken.refresh_from_db()
    assert broken.migration_fingerprint == current_fingerprint()
    assert TABLE in tables(broken)


def test_a_no_op_run_connects_to_no_tenant(registry, monkeypatch):
    for i in range(3):
        make_tenant(f"Church {i}")
    touched = []
    monkeypatch.setattr(
        "tenants.migrating._migrate_one", lambda tenant_id: touched.append(tenant_id)
    )
    report = migrate_tenants(parallel=4)
    assert touched == []
    assert report.skipped == 3


def test_only_the_named_tenants_are_migrated(own_template, settings):
    one, two = make_tenant("One"), make_tenant("Two")
    settings.MIGRATION_MODULES = EXTRA

    call_command("migrate_tenants", "--tenant", one.slug)

    assert TABLE in tables(one)
    assert TABLE not in tables(two)


def test_unknown_tenants_and_bad_parallelism_are_clear_errors(registry):
    make_tenant("Real")
    with pytest.raises(CommandError, match="Unknown tenant.*ghost"):
        call_command("migrate_tenants", "--tenant", "ghost")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("migrate_tenants", "--parallel", "0")


def test_the_celery_fan_out_migrates_every_tenant(own_template, settings):
    from tenants.tasks import migrate_tenants_task

    tenants = [make_tenant(f"Church {i}") for i in range(3)]
    settings.MIGRATION_MODULES = EXTRA

    assert migrate_tenants_task.delay().get() == 3

    for tenant in tenants:
        tenant.refresh_from_db()
        assert tenant.migration_fingerprint == current_fingerprint()
        assert TABLE in tables(tenant)


def test_suspended_tenants_are_migrated_too(own_template, settings):
    tenant = make_tenant("Sleeping")
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)
    settings.MIGRATION_MODULES = EXTRA
    migrate_tenants()
    assert TABLE in tables(tenant)


def test_a_pass_over_many_tenants_keeps_no_connection_to_each(own_template, settings):
    from tenants import connections

    for i in range(3):
        make_tenant(f"Church {i}")
    settings.MIGRATION_MODULES = EXTRA
    report = migrate_tenants(parallel=1)
    assert len(report.migrated) == 3
    assert connections.registered_aliases() == []
