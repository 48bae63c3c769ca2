"""Moving a church's database to another server by logical replication.

The target gets the church's role and an empty copy of its schema; a
publication on the source and a subscription on the target copy the rows and
then follow every change, while the church keeps working. Only for the last
step does it go to `maintenance`: its role is locked on the source (its
sessions end, nothing more is written there), the subscription catches up to
the source's last position, sequences are carried over (replication copies
rows only), and the registry points the church at the target with a new
placement, so that every process opens a new alias there. The source database
is kept, locked, for `keep_old_days`, then dropped by the reconciler.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from messaging.backlog import replay_for
from tenants import connections
from tenants.context import direct_alias
from tenants.holds import release_tenant
from tenants.lookup import invalidate_tenant
from tenants.models import DatabaseServer, RetiredDatabase, Tenant
from tenants.secrets import decrypt
from tenants.servers.postgres import PostgresServer

logger = logging.getLogger(__name__)

MOVABLE = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)
POLL_SECONDS = 0.2


class MoveRefused(Exception):
    """The move was not started (or was undone): the message says why."""


@dataclass
class MovePlan:
    tenant: Tenant
    source: DatabaseServer
    target: DatabaseServer
    slot: str


@dataclass
class MoveReport:
    plan: MovePlan
    copy_seconds: float = 0.0
    paused_seconds: float = 0.0


def plan_move(tenant: Tenant, target_name: str) -> MovePlan:
    tenant = Tenant.objects.select_related("server").get(pk=tenant.pk)
    target = DatabaseServer.objects.filter(name=target_name).first()
    if target is None:
        raise MoveRefused(f"No database server named {target_name!r}.")
    if not target.active:
        raise MoveRefused(f"Server {target.name} is not active.")
    if target.pk == tenant.server_id:
        raise MoveRefused(f"{tenant.slug} is on {target.name} already.")
    if tenant.status not in MOVABLE:
        raise MoveRefused(
            f"{tenant.slug} is {tenant.status}; "
            "only an active or suspended church moves."
        )
    if (
        "postgresql" not in (tenant.server.engine, target.engine)
        or tenant.server.engine != target.engine
    ):
        raise MoveRefused("Moves go between PostgreSQL servers (logical replication).")
    source = PostgresServer(tenant.server.connection_url())
    if source.wal_level() != "logical":
        raise MoveRefused(
            f"Server {tenant.server.name} needs wal_level = logical "
            "to move a church off it."
        )
    if PostgresServer(target.connection_url()).database_exists(tenant.database_name):
        raise MoveRefused(
            f"{target.name} already has a database {tenant.database_name}."
        )
    return MovePlan(
        tenant=tenant,
        source=tenant.server,
        target=target,
        slot=f"ct_move_{tenant.id.hex[:20]}",
    )


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise MoveRefused(f"Gave up waiting for {what} after {timeout:.0f} s.")
        time.sleep(POLL_SECONDS)


def move(
    plan: MovePlan,
    *,
    keep_old_days: int = 7,
    copy_timeout: float = 3600,
    catch_up_timeout: float = 60,
) -> MoveReport:
    tenant, report = plan.tenant, MoveReport(plan=plan)
    source = PostgresServer(plan.source.connection_url())
    target = PostgresServer(plan.target.connection_url())
    name, user = tenant.database_name, tenant.database_user
    RetiredDatabase.objects.create(
        server=plan.target, name=name, role=user, tenant=tenant,
        reason="a move was copying it",
        drop_after=timezone.now() + dt.timedelta(days=1),
    )  # fmt: skip
    began = time.monotonic()
    try:
        target.ensure_role(user, decrypt(tenant.database_password))
        with tempfile.TemporaryDirectory() as scratch:
            schema = Path(scratch) / "schema.dump"
            source.dump(name, schema, schema_only=True)
            target.load(name, user, schema)
        source.publish(name, plan.slot)
        target.subscribe(name, plan.slot, source.conninfo(name))
        _wait(
            lambda: target.subscription_copied(name, plan.slot),
            copy_timeout,
            "the copy",
        )
        report.copy_seconds = time.monotonic() - began
        _switch(plan, source, target, report, keep_old_days, catch_up_timeout)
    except BaseException:
        _undo(plan, source, target)
        raise
    replay_for(tenant)
    return report


def _switch(
    plan: MovePlan,
    source: PostgresServer,
    target: PostgresServer,
    report: MoveReport,
    keep_old_days: int,
    catch_up_timeout: float,
) -> None:
    tenant = plan.tenant
    name, user = tenant.database_name, tenant.database_user
    previous = tenant.status
    if not Tenant.objects.filter(pk=tenant.pk, status=previous).update(
        status=Tenant.Status.MAINTENANCE, updated_at=timezone.now()
    ):
        raise MoveRefused(f"{tenant.slug} changed state during the move; run it again.")
    invalidate_tenant(tenant.pk)
    paused = time.monotonic()
    moved = False
    try:
        time.sleep(settings.TENANT_RECORD_LOCAL_SECONDS)  # every process sees it
        connections.forget(tenant.alias)
        connections.forget(direct_alias(tenant))
        source.lock_role(user)  # writes pause here
        position = source.current_lsn()
        _wait(
            lambda: source.slot_caught_up(plan.slot, position),
            catch_up_timeout,
            "the catch-up",
        )
        target.set_sequences(name, source.sequences(name))
        target.drop_subscription(name, plan.slot)
        source.drop_publication(name, plan.slot)
        with transaction.atomic():
            RetiredDatabase.objects.filter(server=plan.target, name=name).delete()
            RetiredDatabase.objects.create(
                server=plan.source, name=name, role=user, tenant=tenant,
                reason=f"moved to {plan.target.name}",
                drop_after=timezone.now() + dt.timedelta(days=keep_old_days),
            )  # fmt: skip
            Tenant.objects.filter(pk=tenant.pk).update(
                server=plan.target, placement=F("placement") + 1
            )
        moved = True
    finally:
        Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.MAINTENANCE).update(
            status=previous, updated_at=timezone.now()
        )
        invalidate_tenant(tenant.pk)
        # Failures seen while writes were paused said nothing about the church
        # now: a hold they left would refuse its first requests (this process's).
        release_tenant(tenant.pk)
        report.paused_seconds = time.monotonic() - paused
        if not moved:
            source.unlock_role(user)


def _undo(plan: MovePlan, source: PostgresServer, target: PostgresServer) -> None:
    """Leave the church where it was: the copy, subscription and publication gone."""
    if Tenant.objects.filter(pk=plan.tenant.pk, server=plan.target).exists():
        return  # it did move: the target is its database now
    name, user = plan.tenant.database_name, plan.tenant.database_user
    dropped = False
    for step in (
        lambda: target.drop_subscription(name, plan.slot),
        lambda: source.drop_slot(plan.slot),  # if the subscription could not
        lambda: source.drop_publication(name, plan.slot),
        lambda: target.drop_database(name=name, user=user),
    ):
        try:
            step()
            dropped = True
        except Exception:
            dropped = False
            logger.exception("undoing the move of %s: a step failed", plan.tenant.slug)
    if dropped:  # else the reconciler drops the copy when its row says
        RetiredDatabase.objects.filter(server=plan.target, name=name).delete()
