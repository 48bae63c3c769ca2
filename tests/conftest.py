"""Test fixtures: a real registry, real tenant databases, named personas.

Every test that touches tenants gets the `registry` fixture: a transactional
registry (flushed afterwards) and tenant databases created by the real
provisioning service, dropped again at teardown. Tenant databases cannot join
Django's per-test transaction (they appear at runtime), so they are made and
dropped instead; cloning a template keeps that cheap.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from rest_framework.test import APIClient

from tests.pgbouncer import PgBouncer
from tests.ports import free_port, wait_for_port

pytest_plugins = ["tests.messaging.fixtures"]

ROOT = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs the PostgreSQL run")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def service_missing(what: str) -> None:
    """Fail under REQUIRE_SERVICES (CI), skip otherwise."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session", autouse=True)
def _cache_keys_of_this_worker():
    """xdist workers share the test Redis but not their registries: each keeps
    its own keys, so that one worker's clean-up (the rate-limit counters wiped
    before each test) never wipes another's mid-test."""
    from django.core.cache import caches

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        for alias, config in caches.settings.items():
            config["KEY_PREFIX"] = f"{config.get('KEY_PREFIX', '')}-{worker}"
            if hasattr(caches._connections, alias):
                delattr(caches._connections, alias)  # built with the old prefix
    return worker


@pytest.fixture(scope="session", autouse=True)
def _client_sets_aside_the_products_connection_check():
    """Django's test client sets `close_old_connections` aside while it sends a
    request's signals and connects it again after; the product replaced that
    handler (`tenants.connections`): the client sets the product's aside instead,
    so tests run with the per-request check production has."""
    import django.test.client

    from tenants.connections import close_old_static_connections

    django.test.client.close_old_connections = close_old_static_connections


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Once the test registry is migrated, the flush after each test need not
    make content types and permissions again (a quarter of a second a test):
    content types are made when first asked for, and no test grants a
    permission to anyone but a superuser."""
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes
    from django.db.models.signals import post_migrate, post_save

    from accounts import revocation_feed
    from tenants.models import DatabaseServer

    post_migrate.disconnect(
        create_permissions,
        dispatch_uid="django.contrib.auth.management.create_permissions",
    )
    post_migrate.disconnect(create_contenttypes)
    post_save.connect(_carry_template, sender=DatabaseServer)
    yield
    # Before the test registry is dropped: its listener would read a
    # database that is gone, and log so after the run's output is closed.
    revocation_feed.stop()


@pytest.fixture(scope="session", autouse=True)
def _tenant_settings(tmp_path_factory):
    """Names and places no other run (or the dev setup) uses."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    settings.TENANT_DB_PREFIX = f"test{worker}_{os.getpid() % 100000}_"
    if not ON_POSTGRES:
        directory = tmp_path_factory.mktemp("tenants")
        settings.TENANT_DB_SERVERS = [f"sqlite:///{directory}"]
    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
    settings.TENANT_READY_POOL = 0  # tests that use the pool stock it themselves
    bouncer = None
    if os.environ.get("TEST_TENANT_POOLER") == "1":
        # The run through a pooler: every tenant connection goes via PgBouncer.
        assert ON_POSTGRES, "the pooler run needs PostgreSQL"
        if shutil.which("pgbouncer") is None:
            pytest.fail("pgbouncer is required for the pooler run but not installed")
        # Server connections of finished tests close soon: many tests, many dbs.
        bouncer = _new_pgbouncer(pool_size=2, server_idle_timeout=2)
        bouncer.start()
        settings.TENANT_DB_SERVERS = [
            bouncer.url_of(url) for url in settings.TENANT_DB_SERVERS
        ]
    yield
    if bouncer is not None:
        bouncer.close()
    if ON_POSTGRES:
        for url in settings.TENANT_DB_SERVERS:
            _drop_everything_prefixed(url, settings.TENANT_DB_PREFIX)


def _drop_everything_prefixed(url: str, prefix: str) -> None:
    """Session end: the templates and anything else this run created."""
    import psycopg
    from psycopg import sql

    from tenants.servers.postgres import PostgresServer

    server = PostgresServer(url)
    like = prefix.replace("_", r"\_") + "%"
    try:
        conn = psycopg.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            dbname="postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError:
        return
    with conn:
        for (name,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [like]
        ).fetchall():
            ident = sql.Identifier(name)
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident))
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
        for (name,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [like]
        ).fetchall():
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def registry(transactional_db, django_db_blocker):
    """A clean registry; tenant databases made during the test are dropped after."""
    from django.contrib.contenttypes.models import ContentType

    from billing.plans import ensure_plans
    from tenants import connections
    from tenants.cache import breaker

    blocked = BaseDatabaseWrapper.ensure_connection
    real = django_db_blocker._real_ensure_connection

    def ensure_connection(self, *args, **kwargs):
        # Tenant aliases appear at runtime; Django's test case would refuse them.
        if self.alias != "default":
            return real(self, *args, **kwargs)
        return blocked(self, *args, **kwargs)

    breaker.reset()
    _forget_rate_limits()
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", ensure_connection):
        try:
            ensure_plans()  # the flush after each test removes what migrations wrote
            ContentType.objects.clear_cache()  # the flush took the rows it caches
            yield
        finally:
            _templates.update(_template_fingerprints())
            _drop_tenant_databases()
            connections.forget_all()


# Each server's template outlives the flush after each test, but the row that
# records its migration state does not: carried over to the row registered
# again, so that each test's first provisioning does not open and re-check a
# template that is current already.
_templates: dict[str, str] = {}


def _template_fingerprints() -> dict[str, str]:
    from tenants.models import DatabaseServer

    return dict(
        DatabaseServer.objects.exclude(template_fingerprint="").values_list(
            "url", "template_fingerprint"
        )
    )


def _carry_template(sender, instance, created, raw=False, **kwargs) -> None:
    known = _templates.get(instance.url)
    if created and not raw and known and not instance.template_fingerprint:
        type(instance).objects.filter(pk=instance.pk).update(template_fingerprint=known)
        instance.template_fingerprint = known


def _forget_rate_limits() -> None:
    """Every test starts with no attempts counted (the test client has one address)."""
    from django.core.cache import caches

    from tenants import cache as shared_cache
    from tenants.cache import REGISTRY_PREFIX

    backend = caches["default"]
    if hasattr(backend, "delete_pattern"):
        backend.delete_pattern(f"{REGISTRY_PREFIX}rate:*")
    else:
        backend.clear()  # local memory: this process's own cache
    shared_cache._local_counts.clear()


def _drop_tenant_databases() -> None:
    from tenants import connections
    from tenants.models import DatabaseServer, Tenant
    from tenants.servers import backend_for, tenant_database_pattern

    connections.forget_all()
    pattern = tenant_database_pattern()
    for server in DatabaseServer.objects.all():
        backend = backend_for(server)
        try:
            present = backend.list_databases()
        except Exception:
            continue  # a server the test stopped
        # Copies a restore or move kept (suffixed names) go first: they
        # belong to a tenant's role, which goes with the tenant's database.
        for copy in sorted(n for n in present if not pattern.match(n)):
            try:
                backend.drop_database(name=copy, user="")
            except Exception:
                pass
        names = {n for n in present if pattern.match(n)}
        names |= set(
            Tenant.objects.filter(server=server).values_list("database_name", flat=True)
        )
        user_of = (lambda n: n) if server.engine == "postgresql" else (lambda n: "")

        def drop(name, backend=backend, user_of=user_of):
            try:
                backend.drop_database(name=name, user=user_of(name))
            except Exception:
                pass

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(drop, names))


# --- personas ---------------------------------------------------------------


@dataclass
class Persona:
    """A tenant with one logged-in user and an API client carrying their token."""

    tenant: object
    user: object
    role: str
    tokens: dict
    client: APIClient

    @property
    def access(self) -> str:
        return self.tokens["access"]


def make_tenant(name: str, **kwargs):
    from tenants.provisioning import provision_tenant

    return provision_tenant(name=name, **kwargs)


def make_persona(tenant, *, role: str = "owner", email: str | None = None) -> Persona:
    from accounts.models import Membership, User
    from accounts.tokens import issue_tokens

    email = email or f"{role}-{uuid.uuid4().hex[:6]}@{tenant.slug}.example"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email,
        "correct horse battery staple",
        first_name=role.title(),
        last_name="Tester",
    )
    Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": role})
    tokens = issue_tokens(user_id=user.id, tenant=tenant, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return Persona(tenant=tenant, user=user, role=role, tokens=tokens, client=client)


@pytest.fixture
def tenant_a(registry):
    return make_tenant("Grace Chapel")


@pytest.fixture
def tenant_b(registry):
    return make_tenant("Hope Fellowship")


@pytest.fixture
def alice(tenant_a) -> Persona:
    """Owner of tenant A."""
    return make_persona(tenant_a, role="owner")


@pytest.fixture
def bob(tenant_b) -> Persona:
    """Owner of tenant B."""
    return make_persona(tenant_b, role="owner")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


# --- services the tests start themselves ----------------------------------------


class RedisServer:
    """A redis-server of the test's own, on a spare port, that it may stop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def pause(self) -> None:
        """Freeze the server: it keeps its data but answers nothing."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_until(condition, timeout: float = 15.0) -> bool:
    """Poll `condition` until it holds (a deadline for slow machines, not a pace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        service_missing("redis-server")
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def own_redis(redis_server, monkeypatch, registry):
    """The cache on a Redis of the test's own, with a short breaker cooldown."""
    from django.test import override_settings

    from tenants.cache import breaker

    monkeypatch.setattr(breaker, "cooldown", 0.2)
    breaker.reset()
    cache = {
        "default": {
            "BACKEND": "tenants.cache.BreakerRedisCache",
            "LOCATION": redis_server.url,
            "KEY_FUNCTION": "tenants.cache.tenant_key",
            "KEY_PREFIX": "outage",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
        }
    }
    with override_settings(CACHES=cache):
        yield redis_server
    breaker.reset()


def _new_pgbouncer(**kwargs) -> PgBouncer:
    """A PgBouncer in front of the suite's PostgreSQL server (not started)."""
    parts = urlsplit(settings.TENANT_DB_SERVERS[0].split("?")[0])
    server = (parts.hostname or "127.0.0.1", parts.port or 5432)
    return PgBouncer(server, parts.username or "postgres", **kwargs)


def start_pgbouncer(**kwargs) -> PgBouncer:
    if shutil.which("pgbouncer") is None:
        service_missing("pgbouncer")
    bouncer = _new_pgbouncer(**kwargs)
    bouncer.start()
    return bouncer


class PostgresCluster:
    """A second PostgreSQL server (pg_createcluster) that a test may stop."""

    def __init__(self, *, suffix: str = "", logical: bool = False) -> None:
        self.version = sorted(os.listdir("/etc/postgresql"))[-1]
        self.name = f"ct{os.getpid()}{suffix}"
        self.port = free_port()
        self.logical = logical  # wal_level = logical: churches can move off it

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    def create(self) -> None:
        options = ["-o", "wal_level=logical"] if self.logical else []
        self._ctl(
            "pg_createcluster",
            self.version,
            self.name,
            "-p",
            str(self.port),
            *options,
            "--",
            "--auth=trust",
        )
        self.start()

    def start(self) -> None:
        self._ctl(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            self.version,
            self.name,
            "start",
        )
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        self._ctl(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            self.version,
            self.name,
            "stop",
            "-m",
            "fast",
        )

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name],
            capture_output=True,
            timeout=120,
        )


def _own_cluster(**kwargs) -> PostgresCluster:
    if not ON_POSTGRES:
        pytest.skip("needs the PostgreSQL run")
    if shutil.which("pg_createcluster") is None or not os.path.isdir("/etc/postgresql"):
        service_missing("pg_createcluster (a second PostgreSQL server)")
    cluster = PostgresCluster(**kwargs)
    try:
        cluster.create()
    except subprocess.CalledProcessError as exc:
        cluster.drop()
        service_missing(f"a PostgreSQL cluster of our own ({exc.stderr!r})")
    return cluster


@pytest.fixture(scope="session")
def second_postgres():
    cluster = _own_cluster()
    yield cluster
    cluster.drop()


@pytest.fixture(scope="session")
def logical_clusters():
    """Two servers of our own with wal_level = logical, for moves."""
    first = _own_cluster(suffix="a", logical=True)
    try:
        second = _own_cluster(suffix="b", logical=True)
    except BaseException:
        first.drop()
        raise
    yield first, second
    first.drop()
    second.drop()


# --- real Celery workers -------------------------------------------------------


def worker_environment(broker_url: str, **extra: str) -> dict[str, str]:
    """What a worker process needs to share this test's databases and broker."""
    from django.db import connections as django_connections

    registry_db = django_connections["default"].settings_dict
    if registry_db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{registry_db['NAME']}"
    else:
        database_url = (
            f"postgres://{registry_db['USER']}@{registry_db['HOST']}:"
            f"{registry_db['PORT']}/{registry_db['NAME']}"
        )
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TENANT_DB_SERVERS": ",".join(settings.TENANT_DB_SERVERS),
        "TENANT_DB_PREFIX": settings.TENANT_DB_PREFIX,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "REDIS_URL": "",
        **extra,
    }


class CeleryWorker:
    """`celery worker` in its own process group, so a test can kill it outright."""

    def __init__(
        self, env: dict[str, str], *, concurrency: int = 2, output: Path | None = None
    ) -> None:
        self.env = env
        self.concurrency = concurrency
        self.output = output  # where its stdout and stderr go (else inherited)
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryWorker:
        self.process = subprocess.Popen(
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
                str(self.concurrency),
                "--pool",
                "prefork",
                "-l",
                "warning",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=self.output.open("ab") if self.output else None,
            stderr=subprocess.STDOUT if self.output else None,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the worker and its children: no cleanup, no acks."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process = None


@contextmanager
def publishing_to(broker_url: str):
    """Point this process's Celery app at a real broker (its pools are cached)."""
    from config.celery import app

    def use(**conf):
        app.conf.update(conf)
        app._pool = None
        app.amqp._producer_pool = None  # eager sends acquire a producer too
        app._local.__dict__.pop("backend", None)

    keys = ("broker_url", "result_backend", "task_always_eager")
    previous = {k: app.conf[k] for k in keys}
    use(broker_url=broker_url, result_backend=broker_url, task_always_eager=False)
    try:
        yield app
    finally:
        app.pool.force_close_all()
        use(**previous)
