"""A church moves to another server by logical replication while it works:
0 rows lost, writes paused only for the switch, its neighbours untouched."""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from members.models import Member
from tenants.context import tenant_context
from tenants.models import DatabaseServer, RetiredDatabase, Tenant
from tenants.provisioning import reconcile_tenants, sync_configured_servers
from tenants.servers import backend_for
from tests.conftest import make_persona, make_tenant
from tests.messaging.fixtures import add_member

pytestmark = pytest.mark.postgres


@pytest.fixture
def servers(registry, logical_clusters, settings):
    first, second = logical_clusters
    settings.TENANT_DB_SERVERS = [*settings.TENANT_DB_SERVERS, first.url, second.url]
    settings.TENANT_RECORD_LOCAL_SECONDS = 0
    sync_configured_servers()
    return (
        DatabaseServer.objects.get(url=first.url),
        DatabaseServer.objects.get(url=second.url),
    )


def test_a_church_moves_while_it_keeps_writing(servers):
    source, target = servers
    mover = make_persona(make_tenant("Moving Chapel", server=source))
    neighbour = make_persona(make_tenant("Staying Chapel", server=source))
    for i in range(50):
        add_member(mover.client, f"+1415555{i:04d}", first_name=f"Early{i}")
    written: list[str] = []
    refused: list[int] = []
    unanswered: list[str] = []  # refused, yet perhaps committed before the switch
    stop = threading.Event()

    def keep_writing() -> None:
        i = 0
        while not stop.is_set():
            phone = f"+1415666{i:04d}"
            answer = mover.client.post(
                "/api/members", {"first_name": "During", "phone": phone}, format="json"
            )
            if answer.status_code == 201:
                written.append(phone)
            else:
                refused.append(answer.status_code)
                unanswered.append(phone)
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        call_command("move_tenant", mover.tenant.slug, "--to", target.name)
    finally:
        stop.set()
        writer.join()

    tenant = Tenant.objects.get(pk=mover.tenant.pk)
    assert (tenant.server_id, tenant.status, tenant.placement) == (
        target.pk,
        "active",
        1,
    )
    assert set(refused) <= {503}  # only the switch's maintenance, never a 500
    assert written, "the church kept working during the copy"
    with tenant_context(tenant):
        phones = set(Member.objects.values_list("phone", flat=True))
    early = {f"+1415555{i:04d}" for i in range(50)}
    assert early | set(written) <= phones  # every acknowledged write moved
    assert phones <= early | set(written) | set(unanswered)
    # It works from the new place, sequences included (a new row gets a new id).
    assert add_member(mover.client, "+14157770000", tags=["moved"])["id"]
    assert neighbour.client.get("/api/members").status_code == 200
    # The old database is kept, locked, then dropped by the reconciler.
    kept = RetiredDatabase.objects.get(server=source)
    assert backend_for(source).database_exists(kept.name)
    RetiredDatabase.objects.filter(pk=kept.pk).update(drop_after=tenant.created_at)
    reconcile_tenants()
    assert not backend_for(source).database_exists(kept.name)


def test_a_move_refuses_what_it_cannot_do_and_changes_nothing(servers):
    source, target = servers
    church = make_tenant("Firm Chapel", server=source)
    for args, message in [
        (["--to", "nowhere"], "No database server"),
        (["--to", source.name], "already"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("move_tenant", church.slug, *args)
    plain = DatabaseServer.objects.exclude(pk__in=[source.pk, target.pk]).get()
    elsewhere = make_tenant("Replica Chapel", server=plain)  # wal_level = replica
    with pytest.raises(CommandError, match="wal_level"):
        call_command("move_tenant", elsewhere.slug, "--to", target.name)
    call_command("move_tenant", church.slug, "--to", target.name, "--dry-run")
    assert Tenant.objects.get(pk=church.pk).server_id == source.pk
    assert not backend_for(target).database_exists(church.database_name)
