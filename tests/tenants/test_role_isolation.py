"""On PostgreSQL each tenant database has its own login role, and only it."""

import psycopg
import pytest

from tenants.secrets import decrypt

pytestmark = pytest.mark.postgres


def connect_as(tenant, database: str):
    from tenants.servers.postgres import PostgresServer

    server = PostgresServer(tenant.server.url)
    return psycopg.connect(
        host=server.host,
        port=server.port,
        dbname=database,
        user=tenant.database_user,
        password=decrypt(tenant.database_password),
        connect_timeout=3,
    )


def test_a_tenant_role_opens_its_own_database_and_owns_its_tables(tenant_a):
    with connect_as(tenant_a, tenant_a.database_name) as conn:
        owners = {
            row[0]
            for row in conn.execute(
                "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'"
            )
        }
        conn.execute(
            "INSERT INTO members_member (id, first_name, last_name, phone,"
            " email, status, opted_out, notes, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'A', '', '+1', '', 'active', false,"
            " '', now(), now())"
        )
    assert owners == {tenant_a.database_user}


def test_a_tenant_role_cannot_open_another_tenants_database(tenant_a, tenant_b):
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        connect_as(tenant_a, tenant_b.database_name)


def test_a_tenant_role_cannot_open_the_registry_or_the_template(tenant_a):
    from django.core.management import call_command
    from django.db import connections

    from tenants.servers.base import template_name

    call_command("bootstrap", verbosity=0)  # locks the registry down
    registry = connections["default"].settings_dict["NAME"]
    with pytest.raises(psycopg.OperationalError):
        connect_as(tenant_a, registry)
    with pytest.raises(psycopg.OperationalError):
        connect_as(tenant_a, template_name())
