"""A registry and a church database made before identity left the tenancy app
(and usage and opt-outs changed apps) migrate forward with everything in place.

The fixtures were dumped from a deployment of that version with a church, its
owner, an operator with permissions, a session, a revocation, a sending
number, usage, members, an opt-out and a sent message.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from django.conf import settings
from psycopg import sql

from tenants.secrets import encrypt
from tests.conftest import ON_POSTGRES, ROOT

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "before_accounts"
TENANT_ID = {
    "sqlite": "f75d8a73ecad46388a96f8b0f0cc9267",
    "postgresql": "417e85e53d204e9e8c11a4b0327cfb1b",
}

CHECK = r"""
import json
from django.contrib.admin.models import LogEntry
from django.db import connections
from accounts.models import LoginSession, Membership, Revocation, User
from billing.models import UsageRollup
from church.models import SendingNumber
from members.models import Member, Suppression
from messaging.models import DailyUsage, Message
from tenants.context import tenant_context
from tenants.models import Tenant

owner = User.objects.get(email="pastor@grace.example")
operator = User.objects.get(email="ops@example.com")
tenant = Tenant.objects.get()
with tenant_context(tenant):
    church = {
        "members": Member.objects.count(),
        "opted_out": [m.phone for m in Member.objects.filter(opted_out=True)],
        "suppressed": list(Suppression.objects.values_list("phone", flat=True)),
        "usage": list(DailyUsage.objects.values_list("messages", "segments")),
        "messages": Message.objects.count(),
        "old_usage_table": "billing_dailyusage"
        in connections[tenant.alias].introspection.table_names(),
    }
print(json.dumps({
    "password_ok": owner.check_password("correct horse battery staple"),
    "role": Membership.objects.get(user=owner, tenant=tenant).role,
    "sessions": LoginSession.objects.filter(user=owner).count(),
    "revoked": list(Revocation.objects.values_list("key", flat=True)),
    "operator_permissions": sorted(
        f"{p.content_type.app_label}.{p.codename}"
        for p in operator.user_permissions.all()
    ),
    "group_permissions": sorted(
        f"{p.content_type.app_label}.{p.codename}"
        for g in operator.groups.all() for p in g.permissions.all()
    ),
    "log_user": LogEntry.objects.get().user.email,
    "number": SendingNumber.objects.get().tenant.slug,
    "rollup": list(UsageRollup.objects.values_list("messages", "segments")),
    "church": church,
}))
"""


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    return {**env, "CELERY_BROKER_URL": "", "REDIS_URL": "", **values}


def _sqlite_deployment(tmp_path: Path) -> dict[str, str]:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    registry = tmp_path / "registry.sqlite3"
    with sqlite3.connect(registry) as db:
        db.executescript((FIXTURES / "sqlite_registry.sql").read_text())
        db.execute(
            "UPDATE tenants_databaseserver SET url = ?", [f"sqlite:///{tenants}"]
        )
    church = tenants / f"ct_{TENANT_ID['sqlite']}.sqlite3"
    with sqlite3.connect(church) as db:
        db.executescript((FIXTURES / "sqlite_tenant.sql").read_text())
    return _environment(
        VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{registry}",
        TENANT_DB_SERVERS=f"sqlite:///{tenants}",
        TENANT_DB_PREFIX="ct_",
    )


def _psql(url: str, database: str, user: str, path: Path) -> None:
    server = psycopg.conninfo.conninfo_to_dict(url)
    subprocess.run(
        [
            "psql",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(server.get("host", "127.0.0.1")),
            "-p",
            str(server.get("port", 5432)),
            "-U",
            user,
            "-d",
            database,
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _postgres_deployment(tmp_path: Path) -> dict[str, str]:
    url = settings.TENANT_DB_SERVERS[0].split("?")[0]  # the server, not a pooler
    prefix = f"{settings.TENANT_DB_PREFIX}up_"
    registry = f"{prefix}registry"
    church = f"{prefix}{TENANT_ID['postgresql']}"
    password = uuid.uuid4().hex
    with psycopg.connect(f"{url}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(registry)))
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(church), sql.Literal(password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(church), sql.Identifier(church)
            )
        )
    user = psycopg.conninfo.conninfo_to_dict(url).get("user", "postgres")
    _psql(url, registry, str(user), FIXTURES / "postgresql_registry.sql")
    _psql(url, church, church, FIXTURES / "postgresql_tenant.sql")
    with psycopg.connect(f"{url}/{registry}", autocommit=True) as db:
        db.execute("UPDATE tenants_databaseserver SET url = %s", [url])
        db.execute(
            "UPDATE tenants_tenant SET database_name = %s, database_user = %s,"
            " database_password = %s",
            [church, church, encrypt(password)],
        )
    return _environment(
        VAR_DIR=str(tmp_path),
        DATABASE_URL=f"{url}/{registry}",
        TENANT_DB_SERVERS=url,
        TENANT_DB_PREFIX=prefix,
    )


def test_a_deployment_from_before_the_move_migrates_forward(tmp_path):
    if ON_POSTGRES:
        env = _postgres_deployment(tmp_path)
    else:
        env = _sqlite_deployment(tmp_path)
    _manage(env, "migrate", "--noinput")
    _manage(env, "migrate_tenants")
    _manage(env, "migrate", "--check")
    found = json.loads(_manage(env, "shell", "-c", CHECK).strip().splitlines()[-1])
    assert found == {
        "password_ok": True,
        "role": "owner",
        "sessions": 1,
        "revoked": ["jti:fixture"],
        "operator_permissions": ["accounts.change_user"],
        "group_permissions": ["tenants.view_tenant"],
        "log_user": "ops@example.com",
        "number": "grace-chapel",
        "rollup": [[3, 4]],
        "church": {
            "members": 2,
            "opted_out": ["+14155550102"],
            "suppressed": ["+14155550102"],
            "usage": [[3, 4]],
            "messages": 1,
            "old_usage_table": False,
        },
    }
