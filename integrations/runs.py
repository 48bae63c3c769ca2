"""A sync run: every chosen list, page by page, recorded and resumable.

A run is a registry row. A worker takes it by its lease (`lease_until`), moves
the lease on with every page together with the cursor (the list and the next
page's address) and the counts, so a worker that dies leaves a run that
another takes over after the lease, at the page after the last one done.
One running run per church (a partial unique index): "sync now" during a run
answers with that run.

At the end of each list its tag leaves the members no longer on it (the
person ids of its pages were kept for that, so a resumed run knows them too);
at the end of the run the tags of lists no longer chosen go. Planning Center
refusing (after its rate limit is waited out) fails the run, which is tried
again `PLANNING_CENTER_RETRY_MINUTES` later; a list that no longer exists is
an error of the run, which goes on with the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrations.apply import (
    SyncState,
    Tally,
    apply_people,
    drop_other_tags,
    drop_tag,
    list_tag,
)
from integrations.connection import client_for, next_night
from integrations.models import PlanningCenterConnection, SyncPage, SyncRun
from integrations.pco_client import Client, Gone, PlanningCenterError
from integrations.people import people_of
from tenants.context import require_tenant
from tenants.models import Tenant

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # a run that kills its worker this often is failed, not retried


def _lease() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.PLANNING_CENTER_LEASE_SECONDS)


def start(tenant: Tenant, trigger: str) -> tuple[SyncRun, bool]:
    """A new run for `tenant`, or the one already running: (run, is_new)."""
    running = SyncRun.objects.filter(tenant=tenant, status=SyncRun.Status.RUNNING)
    found = running.first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                tenant=tenant, trigger=trigger, lease_until=timezone.now()
            )
    except IntegrityError:  # another request started one a moment ago
        found = running.first()
        if found is None:
            raise
        return found, False
    return run, True


def take(run_id: str, tenant: Tenant) -> tuple[SyncRun, str] | None:
    """Hold `tenant`'s run `run_id` if it is running and nobody holds it:
    (run, holder). Another church's run is never taken (fail closed)."""
    holder = secrets.token_hex(8)
    now = timezone.now()
    taken = SyncRun.objects.filter(
        pk=run_id, tenant=tenant, status=SyncRun.Status.RUNNING, lease_until__lte=now
    ).update(lease_until=_lease(), holder=holder, attempts=F("attempts") + 1)
    if not taken:
        return None
    return SyncRun.objects.get(pk=run_id), holder


def sync(run_id: str) -> SyncRun | None:
    """Run (or resume) `run_id` in the current tenant; None when not ours."""
    tenant = require_tenant()
    held = take(run_id, tenant)
    if held is None:
        return None
    run, holder = held
    connection = PlanningCenterConnection.objects.filter(tenant=tenant).first()
    if connection is None:
        return _finish(run, holder, None, "Planning Center is not connected.")
    if run.attempts > MAX_ATTEMPTS:
        return _finish(run, holder, connection, "Stopped too often; given up.")
    client = client_for(connection)
    try:
        state = SyncState.load(connection.connected_by)
        _sync(run, holder, client, state, tenant, connection.lists)
    except PlanningCenterError as exc:
        try:
            _advance(run, holder, client, run.cursor, Tally())
        except _LostLease:
            _lost(run)
            return None
        return _finish(run, holder, connection, str(exc))
    except _LostLease:
        _lost(run)
        return None
    _advance(run, holder, client, run.cursor, Tally())
    return _finish(run, holder, connection, None)


class _LostLease(Exception):
    pass


def _lost(run: SyncRun) -> None:
    logger.warning("sync run %s was taken over by another worker", run.pk)


def _sync(
    run: SyncRun,
    holder: str,
    client: Client,
    state: SyncState,
    tenant: Tenant,
    chosen: list[dict[str, str]],
) -> None:
    if not run.cursor:  # a new run: the chosen lists as Planning Center has them
        found = {item["id"]: item for item in client.lists()}
        run.lists = [found.get(item["id"], {**item, "gone": True}) for item in chosen]
        run.errors = [
            f"List {item['name']!r} no longer exists in Planning Center."
            for item in run.lists
            if item.get("gone")
        ]
        run.cursor = {"list": 0, "next": None, "done": False}
        SyncRun.objects.filter(pk=run.pk, holder=holder).update(
            lists=run.lists, errors=run.errors, cursor=run.cursor
        )
    for index in range(run.cursor["list"], len(run.lists)):
        item = run.lists[index]
        tag = list_tag(item["name"])
        if not item.get("gone") and not run.cursor.get("done"):
            try:
                _pages(run, holder, client, state, tenant, index, item["id"], tag)
            except Gone:
                item["gone"] = True
                run.errors.append(
                    f"List {item['name']!r} no longer exists in Planning Center."
                )
        sharing = [  # lists with one tag (names equal as tags): dropped after the last
            other
            for other in run.lists
            if list_tag(other["name"]) == tag and not other.get("gone")
        ]
        if sharing and sharing[-1] is item:
            people = set().union(*(_people_on(run, other["id"]) for other in sharing))
            drop_tag(tag, people, state)
        run.cursor = {"list": index + 1, "next": None, "done": False}
        _advance(run, holder, client, run.cursor, Tally(), lists=run.lists)
    drop_other_tags(
        {list_tag(item["name"]) for item in run.lists if not item.get("gone")}
    )


def _pages(
    run: SyncRun,
    holder: str,
    client: Client,
    state: SyncState,
    tenant: Tenant,
    index: int,
    list_id: str,
    tag: str,
) -> None:
    start = run.cursor.get("next") if run.cursor.get("list") == index else None
    for page, next_url in client.list_people(list_id, start=start):
        people = people_of(page, tenant.country)
        tally = apply_people(people, tag, state)
        SyncPage.objects.create(
            run=run, list_id=list_id, person_ids=[p.person_id for p in people]
        )
        run.cursor = {"list": index, "next": next_url, "done": next_url is None}
        _advance(run, holder, client, run.cursor, tally)


def _people_on(run: SyncRun, list_id: str) -> set[str]:
    found: set[str] = set()
    for ids in SyncPage.objects.filter(run=run, list_id=list_id).values_list(
        "person_ids", flat=True
    ):
        found.update(ids)
    return found


def _advance(
    run: SyncRun,
    holder: str,
    client: Client,
    cursor: dict[str, Any],
    tally: Tally,
    **more: Any,
) -> None:
    """Move the lease, the cursor and the counts on; stop if another took over."""
    skipped = dict(run.skipped)
    for reason, n in tally.skipped.items():
        skipped[reason] = skipped.get(reason, 0) + n
    run.skipped = skipped
    moved = SyncRun.objects.filter(pk=run.pk, holder=holder).update(
        lease_until=_lease(),
        cursor=cursor,
        seen=F("seen") + tally.seen,
        created=F("created") + tally.created,
        updated=F("updated") + tally.updated,
        skipped=skipped,
        errors=run.errors,
        requests=F("requests") + client.requests,
        **more,
    )
    client.requests = 0
    if not moved:
        raise _LostLease()


def _finish(
    run: SyncRun,
    holder: str,
    connection: PlanningCenterConnection | None,
    error: str | None,
) -> SyncRun:
    now = timezone.now()
    errors = [*run.errors, error] if error else run.errors
    status = SyncRun.Status.FAILED if error else SyncRun.Status.SUCCEEDED
    SyncRun.objects.filter(pk=run.pk, holder=holder).update(
        status=status, finished_at=now, errors=errors
    )
    SyncPage.objects.filter(run=run).delete()
    if connection is not None:
        if error:  # tried again later, whatever started it
            retry = dt.timedelta(minutes=settings.PLANNING_CENTER_RETRY_MINUTES)
            connection.next_sync_at = min(connection.next_sync_at, now + retry)
        elif run.trigger == SyncRun.Trigger.NIGHTLY:
            connection.next_sync_at = next_night(connection.tenant, now)
        PlanningCenterConnection.objects.filter(pk=connection.pk).update(
            next_sync_at=connection.next_sync_at
        )
    if error:
        logger.warning("Planning Center sync %s failed: %s", run.pk, error)
    run.refresh_from_db()
    return run
