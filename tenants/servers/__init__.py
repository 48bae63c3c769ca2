"""Where tenant databases live: one backend per kind of database server."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings

from tenants.secrets import decrypt
from tenants.servers.base import ServerBackend, ServerUnavailable
from tenants.servers.postgres import PostgresServer
from tenants.servers.sqlite import SQLiteServer

if TYPE_CHECKING:
    from tenants.models import DatabaseServer, Tenant

__all__ = [
    "ServerBackend",
    "ServerUnavailable",
    "backend_for",
    "database_settings",
    "tenant_database_pattern",
]


def backend_for(server: DatabaseServer) -> ServerBackend:
    """The server's backend, connecting with its decrypted password."""
    if server.engine == "sqlite":
        return SQLiteServer(server.url)
    return PostgresServer(server.connection_url())


def database_settings(tenant: Tenant, *, direct: bool = False) -> dict[str, Any]:
    """The Django settings dict of `tenant`'s database (a fresh copy each call).

    `direct`: to the server itself, past a pooler (migrations, provisioning).
    """
    password = decrypt(tenant.database_password) if tenant.database_password else ""
    return backend_for(tenant.server).tenant_settings(
        tenant.database_name, tenant.database_user, password, direct=direct
    )


def tenant_database_pattern() -> re.Pattern[str]:
    """Names this deployment gives tenant databases (and their roles)."""
    return re.compile(rf"^{re.escape(settings.TENANT_DB_PREFIX)}[0-9a-f]{{32}}$")
