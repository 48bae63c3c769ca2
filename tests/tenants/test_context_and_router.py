"""The one door into a tenant, and a router that fails closed."""

import threading

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import override_settings

from accounts.checks import identity_installed
from members.models import Member
from messaging.checks import webhooks_verifiable
from tenants.checks import tenancy_installed
from tenants.context import (
    NoTenantActive,
    TenantSwitchRefused,
    current_tenant,
    tenant_atomic,
    tenant_context,
)
from tenants.models import Tenant
from tenants.router import CrossTenantAccess, TenantRouter


def test_tenant_models_refuse_to_run_without_a_tenant(registry):
    with pytest.raises(NoTenantActive):
        Member.objects.count()
    with pytest.raises(NoTenantActive):
        Member.objects.create(first_name="X", phone="+14155550100")


def test_registry_models_always_use_the_registry(tenant_a):
    with tenant_context(tenant_a):
        assert Tenant.objects.db == DEFAULT_DB_ALIAS
        assert Tenant.objects.filter(pk=tenant_a.pk).exists()


def test_each_tenant_sees_only_its_own_rows(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        Member.objects.create(first_name="Ann", phone="+14155550100")
    with tenant_context(tenant_b):
        assert Member.objects.count() == 0
        Member.objects.create(first_name="Ben", phone="+14155550100")
    with tenant_context(tenant_a):
        assert list(Member.objects.values_list("first_name", flat=True)) == ["Ann"]


def test_an_object_from_one_tenant_cannot_be_saved_into_another(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        ann = Member.objects.create(first_name="Ann", phone="+14155550100")
    with tenant_context(tenant_b):
        ann.first_name = "Changed"
        with pytest.raises(CrossTenantAccess):
            ann.save()
        with pytest.raises(CrossTenantAccess):
            ann.delete()
        assert Member.objects.count() == 0
    with tenant_context(tenant_a):
        assert Member.objects.get().first_name == "Ann"


def test_switching_tenants_inside_a_context_is_refused(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        with pytest.raises(TenantSwitchRefused), tenant_context(tenant_b):
            pass
        with tenant_context(tenant_a):  # re-entering the same tenant is harmless
            assert current_tenant() == tenant_a
        assert current_tenant() == tenant_a
    assert current_tenant() is None


def test_the_context_does_not_leak_into_other_threads(tenant_a):
    seen = []
    with tenant_context(tenant_a):
        thread = threading.Thread(target=lambda: seen.append(current_tenant()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_tenant_atomic_rolls_back_the_tenant_database(tenant_a):
    def create_then_fail():
        with tenant_atomic():
            Member.objects.create(first_name="Ann", phone="+14155550100")
            raise RuntimeError("boom")

    with tenant_context(tenant_a):
        with pytest.raises(RuntimeError):
            create_then_fail()
        assert Member.objects.count() == 0
    with pytest.raises(NoTenantActive):
        tenant_atomic()


def test_allow_migrate_keeps_registry_and_tenant_apps_apart():
    router = TenantRouter()
    assert router.allow_migrate("default", "tenants")
    assert router.allow_migrate("default", "auth")
    assert not router.allow_migrate("default", "members")
    assert router.allow_migrate("t_abc", "members")
    assert not router.allow_migrate("t_abc", "tenants")
    assert not router.allow_migrate("t_abc", "auth")


def test_tenant_databases_hold_only_tenant_tables(tenant_a):
    with tenant_context(tenant_a):
        tables = set(connections[tenant_a.alias].introspection.table_names())
    assert "members_member" in tables
    assert not any(
        t.startswith(("tenants_", "auth_", "django_session")) for t in tables
    )


def _check_ids(**overrides) -> set[str]:
    with override_settings(**overrides):
        errors = [*tenancy_installed(), *identity_installed(), *webhooks_verifiable()]
    return {e.id for e in errors}


def test_system_checks_refuse_to_start_without_router_or_middleware(settings):
    assert _check_ids() == set()
    assert "tenants.E001" in _check_ids(DATABASE_ROUTERS=[])
    middleware = [m for m in settings.MIDDLEWARE if "TenantMiddleware" not in m]
    assert "tenants.E003" in _check_ids(MIDDLEWARE=middleware)
    late = [*middleware, "tenants.middleware.TenantMiddleware"]
    assert "tenants.E004" in _check_ids(MIDDLEWARE=late)
    sessions = "django.contrib.sessions.middleware.SessionMiddleware"
    session_late = [*[m for m in settings.MIDDLEWARE if m != sessions], sessions]
    assert "accounts.E004" in _check_ids(MIDDLEWARE=session_late)
    assert "tenants.E005" in _check_ids(TENANT_APPS=[*settings.TENANT_APPS, "nope"])
    tokens = "accounts.middleware.TokenMiddleware"
    without_tokens = [m for m in settings.MIDDLEWARE if m != tokens]
    assert "accounts.E001" in _check_ids(MIDDLEWARE=without_tokens)
    assert "accounts.E002" in _check_ids(
        MIDDLEWARE=[*without_tokens, tokens]  # after the tenant middleware
    )
    assert "accounts.E003" in _check_ids(RATE_LIMITS="login=ten")
    assert "messaging.E001" in _check_ids(PRODUCTION=True, TWILIO_AUTH_TOKEN="")
