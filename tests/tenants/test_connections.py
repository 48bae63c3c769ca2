"""The connection manager: aliases on demand, LRU bound, idle close, thread safety."""

import os
import random
import threading

import psycopg
import pytest
from django.db import connections as django_connections
from django.db import transaction
from rest_framework.test import APIClient

from members.models import Member
from tenants import connections
from tenants.context import direct_alias, tenant_context
from tests.conftest import make_tenant, wait_until


def test_a_registered_alias_is_a_complete_django_config(tenant_a):
    with tenant_context(tenant_a):
        config = django_connections.settings[tenant_a.alias]
    expected = django_connections.configure_settings({"default": {}})["default"]
    assert set(config) >= set(expected)
    assert config["ATOMIC_REQUESTS"] is False


def test_aliases_stay_within_the_lru_bound(registry, settings):
    settings.TENANT_CONNECTION_LRU_SIZE = 3
    tenants = [make_tenant(f"Church {i}") for i in range(6)]
    for tenant in tenants:
        with tenant_context(tenant):
            Member.objects.count()
        assert len(connections.registered_aliases()) <= 3

    assert connections.registered_aliases() == [t.alias for t in tenants[-3:]]
    assert tenants[0].alias not in django_connections.settings


def test_an_alias_in_use_is_never_evicted(registry, settings):
    settings.TENANT_CONNECTION_LRU_SIZE = 1
    busy, *others = [make_tenant(f"Church {i}") for i in range(3)]
    with tenant_context(busy):
        for other in others:
            with _in_thread(other):
                pass
        assert busy.alias in connections.registered_aliases()
        assert Member.objects.count() == 0  # still usable


class _in_thread:
    """Use another tenant from another thread while the caller holds its own."""

    def __init__(self, tenant):
        self.tenant = tenant

    def __enter__(self):
        def use():
            with tenant_context(self.tenant):
                Member.objects.count()
            django_connections.close_all()

        thread = threading.Thread(target=use)
        thread.start()
        thread.join()

    def __exit__(self, *exc):
        return False


def test_idle_aliases_are_closed_by_the_sweeper(registry, settings):
    tenants = [make_tenant(f"Church {i}") for i in range(3)]
    for tenant in tenants:
        with tenant_context(tenant):
            Member.objects.count()
    assert len(connections.registered_aliases()) == 3

    settings.TENANT_CONNECTION_IDLE_SECONDS = 1

    assert wait_until(lambda: connections.registered_aliases() == [])


def test_a_thread_drops_its_wrapper_of_an_evicted_alias(tenant_a):
    resume, evicted, done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def worker():
        with tenant_context(tenant_a):
            Member.objects.count()
            seen["first"] = django_connections[tenant_a.alias]
        resume.set()
        evicted.wait()
        with tenant_context(tenant_a):  # re-registered: a fresh wrapper
            Member.objects.count()
            seen["second"] = django_connections[tenant_a.alias]
        django_connections.close_all()
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    resume.wait()
    connections.forget(tenant_a.alias)
    evicted.set()
    done.wait()
    thread.join()
    assert seen["first"] is not seen["second"]
    assert seen["second"].settings_dict is not seen["first"].settings_dict


@pytest.mark.postgres
def test_connections_never_exceed_the_bound_over_many_tenants(registry, settings):
    settings.TENANT_CONNECTION_LRU_SIZE = bound = 10  # connections, any threads
    tenants = [make_tenant(f"Church {i}") for i in range(105)]
    prefix = settings.TENANT_DB_PREFIX
    default = django_connections["default"].settings_dict
    monitor = psycopg.connect(
        host=default["HOST"],
        port=default["PORT"],
        user=default["USER"],
        dbname="postgres",
        autocommit=True,
    )

    def tenant_connections() -> int:
        return monitor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s",
            [prefix.replace("_", r"\_") + "%"],
        ).fetchone()[0]

    peak, stop = [0], threading.Event()

    reserved = [0]

    def sample():
        while not stop.is_set():
            reserved[0] = max(reserved[0], connections.reserved_connections())
            peak[0] = max(peak[0], tenant_connections())

    def work(seed: int):
        rng = random.Random(seed)
        for _ in range(150):
            with tenant_context(rng.choice(tenants)):
                Member.objects.count()
        django_connections.close_all()

    sampler = threading.Thread(target=sample)
    sampler.start()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    sampler.join()

    assert 0 < reserved[0] <= bound
    if "pooler=" not in settings.TENANT_DB_SERVERS[0]:
        # The server forgets a closed session a moment after the close: one
        # eviction in flight per thread may still be counted there. (Behind a
        # pooler, the server's sessions are the pooler's, not this process's.)
        assert 0 < peak[0] <= bound + len(workers)
    assert len(connections.registered_aliases()) <= 10

    settings.TENANT_CONNECTION_IDLE_SECONDS = 1
    assert wait_until(lambda: tenant_connections() == 0)
    monitor.close()


def test_forgetting_an_alias_in_use_waits_for_its_last_user(tenant_a):
    with tenant_context(tenant_a):
        connections.forget(tenant_a.alias)  # e.g. an operator migrating it now
        assert tenant_a.alias in django_connections.settings
        assert Member.objects.count() == 0  # still works mid-request
    assert tenant_a.alias not in django_connections.settings


@pytest.mark.postgres
def test_a_warm_context_reuses_its_connection(tenant_a):
    def backend_pid() -> int:
        with tenant_context(tenant_a):
            with django_connections[tenant_a.alias].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                return cursor.fetchone()[0]

    assert backend_pid() == backend_pid()


@pytest.mark.postgres
def test_a_connection_the_server_hung_up_on_is_replaced_unseen(tenant_a, alice):
    with tenant_context(tenant_a):
        with django_connections[tenant_a.alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
    default = django_connections["default"].settings_dict
    with psycopg.connect(
        host=default["HOST"], port=default["PORT"], user=default["USER"],
        dbname="postgres", autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert wait_until(
            lambda: (
                not admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]
                ).fetchone()
            )
        )
    # The kept connection is dead; the request gets a new one, and no hold.
    assert alice.client.get("/api/members").status_code == 200
    assert alice.client.get("/api/members").status_code == 200


@pytest.mark.postgres
def test_a_new_tenant_connection_starts_in_djangos_time_zone(tenant_a):
    """No SET TIME ZONE round trip on a cold tenant (the server may be Etc/UTC).

    (Through a pooler the zone is Django's SET, which PgBouncer tracks.)"""
    with tenant_context(tenant_a, direct=True):
        alias = direct_alias(tenant_a)
        params = django_connections[alias].get_connection_params()
    connections.forget(alias)
    with psycopg.connect(**params) as raw:
        assert raw.info.parameter_status("TimeZone") == "UTC"


@pytest.mark.postgres
def test_a_connection_on_a_high_descriptor_is_kept_too(tenant_a):
    """A process keeping many tenants open has sockets above 1023 (select's cap)."""
    filler = [open(os.devnull) for _ in range(1100)]  # noqa: SIM115
    try:
        connections.forget(tenant_a.alias)

        def backend_pid() -> int:
            with tenant_context(tenant_a):
                wrapper = django_connections[tenant_a.alias]
                with wrapper.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    return cursor.fetchone()[0], wrapper.connection.fileno()

        (first, fd), (second, _) = backend_pid(), backend_pid()
        assert fd > 1023
        assert first == second
    finally:
        connections.forget(tenant_a.alias)
        for f in filler:
            f.close()


def test_a_request_checks_only_the_registrys_connection(tenant_a, monkeypatch):
    """Kept tenant connections are checked as their context ends, not on every
    request's start and end (two checks per connection kept, per request)."""
    from django.core.signals import request_finished, request_started

    alice_client = APIClient()
    alice_client.get("/healthz")  # the test client sets handlers aside and back
    with tenant_context(tenant_a):
        Member.objects.count()
    django_connections["default"].ensure_connection()
    checked = []
    for alias in ("default", tenant_a.alias):
        monkeypatch.setattr(
            django_connections[alias], "close_if_unusable_or_obsolete",
            lambda alias=alias: checked.append(alias),
        )  # fmt: skip

    request_started.send(sender=None)
    request_finished.send(sender=None)

    assert checked == ["default", "default"]


def test_a_transaction_a_context_left_open_is_not_carried_into_the_next(tenant_a):
    """Work left uncommitted by a context that ended inside its transaction is
    rolled back; the next context starts on a fresh connection."""
    with tenant_context(tenant_a):
        transaction.atomic(using=tenant_a.alias).__enter__()  # never exited
        Member.objects.create(first_name="Left", phone="+12125550100")
    with tenant_context(tenant_a):
        assert not django_connections[tenant_a.alias].in_atomic_block
        assert Member.objects.count() == 0
        Member.objects.create(first_name="Kept", phone="+12125550101")
    with tenant_context(tenant_a):
        assert list(Member.objects.values_list("first_name", flat=True)) == ["Kept"]


def _logged(*aliases: str) -> dict:
    """Each alias's query log, with one entry in it."""
    logs = {alias: django_connections[alias].queries_log for alias in aliases}
    for log in logs.values():
        log.append({"sql": "SELECT 1", "time": "0.000"})
    return logs


@pytest.mark.parametrize(("debug", "left"), [(False, [0, 1]), (True, [0, 0])])
def test_a_request_start_clears_the_registrys_query_log_and_under_debug_the_tenants(
    tenant_a, settings, debug, left
):
    """Django clears every alias's log, looking up each one registered; a
    tenant's is written only under DEBUG (then this thread's tenants' are
    cleared too) or while a test captures queries."""
    from django.core.signals import request_started

    settings.DEBUG = debug
    with tenant_context(tenant_a):
        Member.objects.count()
    django_connections["default"].ensure_connection()
    logs = _logged("default", tenant_a.alias)

    request_started.send(sender=None)

    assert [len(log) for log in logs.values()] == left


def test_queries_captured_across_a_request_start_are_all_kept(tenant_a, settings):
    from django.core.signals import request_started
    from django.test.utils import CaptureQueriesContext

    settings.DEBUG = True
    with tenant_context(tenant_a):
        Member.objects.count()
        with CaptureQueriesContext(django_connections[tenant_a.alias]) as captured:
            Member.objects.count()
            request_started.send(sender=None)
            Member.objects.count()
    assert len(captured) == 2
