"""Every name of the product (and of its tests) that the benchmarks use.

Imported lazily, on first use: the models can only load once `harness.configure`
has set Django up, and `bench.plainapp` (another Django project) takes the phone
helpers, UUID parsing and pagination from here without loading any model. When
a product module moves, change its line here and nowhere else.
"""

import importlib
from typing import Any

NAMES = {
    # modules (attribute access patches and reads their internals)
    "connections": "tenants.connections",
    "lookup": "tenants.lookup",
    "migrating": "tenants.migrating",
    "provisioning": "tenants.provisioning",
    "ready_pool": "tenants.ready_pool",
    # classes and functions
    "DatabaseServer": "tenants.models:DatabaseServer",
    "Membership": "accounts.models:Membership",
    "Tenant": "tenants.models:Tenant",
    "User": "accounts.models:User",
    "PostgresServer": "tenants.servers.postgres:PostgresServer",
    "database_settings": "tenants.servers:database_settings",
    "issue_tokens": "accounts.tokens:issue_tokens",
    "tenant_context": "tenants.context:tenant_context",
    "direct_alias": "tenants.context:direct_alias",
    "current_alias": "tenants.context:current_alias",
    "update_church": "church.services:update_church",
    "subscribe": "billing.subscriptions:subscribe",
    "reserve": "messaging.quota:reserve",
    "plan_move": "backups.moves:plan_move",
    "move": "backups.moves:move",
    "Member": "members.models:Member",
    "MemberTag": "members.models:MemberTag",
    "digits": "sms.phones:digits",
    "known_timezones": "api.fields:known_timezones",
    "parse_uuid": "api.fields:parse_uuid",
    "Pagination": "api.pagination:Pagination",
    "to_e164": "sms.phones:to_e164",
    "search_indexes": "members.migrations.0002_search_indexes:forwards",
    "InvalidPhone": "sms.phones:InvalidPhone",
    "JsonFormatter": "telemetry.logs:JsonFormatter",
    "rebuild_stats": "dashboard.stats:rebuild",
    "bump": "stats.rollup:bump",
    "runs": "integrations.runs",
    "connect_planning_center": "integrations.connection:connect",
    # test helpers
    "FakeTwilio": "tests.fakes:FakeTwilio",
    "PgBouncer": "tests.pgbouncer:PgBouncer",
    "config_for": "tests.haproxy:config_for",
    "FakePlanningCenter": "tests.fake_pco:FakePlanningCenter",
}
# A migration the product does not have, added through MIGRATION_MODULES.
EXTRA_MIGRATIONS = {"templates_app": "tests.tenants.extra_migrations.templates_app"}
EXTRA_TABLE = "templates_app_extranote"


def __getattr__(name: str) -> Any:
    if name not in NAMES:
        raise AttributeError(name)
    module, _, attribute = NAMES[name].partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded
