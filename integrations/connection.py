"""Connecting a church to Planning Center, and when its nightly sync is due.

The owner gives a personal access token (application id and secret, HTTP
Basic). It is tried against Planning Center before anything is kept: a refused
one is a `400` with Planning Center's message and is never stored. Connecting
subscribes to Planning Center's people webhooks at a URL with a random token
of this connection (only when `PUBLIC_BASE_URL` says where this service is
reachable) and keeps each subscription's authenticity secret, encrypted.
An OAuth connection would differ only in the credential the `Client` sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from integrations.errors import CredentialsRefused, NotConnected, UnknownLists
from integrations.models import PlanningCenterConnection
from integrations.pco_client import Client, PlanningCenterError
from tenants.models import Tenant
from tenants.secrets import decrypt, encrypt

EVENTS = [
    f"people.v2.events.{kind}.{action}"
    for kind in ("person", "phone_number", "email")
    for action in ("created", "updated", "destroyed")
]
NIGHT_START_HOUR = 1  # the nightly syncs are spread over 01:00-05:00, local time
NIGHT_MINUTES = 240


def client_for(connection: PlanningCenterConnection) -> Client:
    return Client(connection.app_id, decrypt(connection.secret))


def connection_of(tenant: Tenant) -> PlanningCenterConnection:
    found = PlanningCenterConnection.objects.filter(tenant=tenant).first()
    if found is None:
        raise NotConnected()
    return found


def next_night(tenant: Tenant, after: dt.datetime) -> dt.datetime:
    """The church's own minute of the night after `after`: churches are spread
    over the night window by their id, each in its time zone."""
    offset = int(hashlib.sha256(str(tenant.pk).encode()).hexdigest(), 16)
    minute = offset % NIGHT_MINUTES
    zone = ZoneInfo(tenant.timezone)
    local = after.astimezone(zone)
    slot = local.replace(hour=NIGHT_START_HOUR, minute=0, second=0, microsecond=0)
    slot += dt.timedelta(minutes=minute)
    while slot <= local:
        slot += dt.timedelta(days=1)
    return slot.astimezone(dt.UTC)


def connect(
    tenant: Tenant, *, app_id: str, secret: str, lists: list[str], user_id: str
) -> PlanningCenterConnection:
    """Connect (or change the lists of) `tenant`'s Planning Center account."""
    client = Client(app_id, secret)
    try:
        available = {item["id"]: item for item in client.lists()}
    except PlanningCenterError as exc:
        if exc.upstream_status in (401, 403):
            raise CredentialsRefused(str(exc)) from exc
        raise
    unknown = [list_id for list_id in lists if list_id not in available]
    if unknown:
        raise UnknownLists(f"No such list in Planning Center: {', '.join(unknown)}.")
    chosen = [available[list_id] for list_id in dict.fromkeys(lists)]
    existing = PlanningCenterConnection.objects.filter(tenant=tenant).first()
    if existing is not None and (existing.app_id, decrypt(existing.secret)) == (
        app_id,
        secret,
    ):
        existing.lists = chosen
        existing.save(update_fields=["lists"])
        return existing
    token = secrets.token_urlsafe(32)
    subscriptions = _subscribe(client, token)
    if existing is not None:  # a new token: the old one goes once the new works
        disconnect(tenant)
    return PlanningCenterConnection.objects.create(
        tenant=tenant,
        app_id=app_id,
        secret=encrypt(secret),
        lists=chosen,
        webhook_token=token,
        subscriptions=subscriptions,
        connected_by=user_id,
        next_sync_at=next_night(tenant, timezone.now()),
    )


def _subscribe(client: Client, token: str) -> list[dict[str, str]]:
    if not settings.PUBLIC_BASE_URL:
        return []  # nowhere Planning Center could reach: nightly and on demand only
    url = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/api/webhooks/planning-center/{token}"
    made: list[dict[str, str]] = []
    try:
        for name in EVENTS:
            sub = client.subscribe(name, url)
            made.append(
                {"id": sub["id"], "name": name, "secret": encrypt(sub["secret"])}
            )
    except PlanningCenterError:
        for sub in made:  # all or nothing: no half-subscribed account
            _quietly(client.unsubscribe, sub["id"])
        raise
    return made


def disconnect(tenant: Tenant) -> None:
    """Forget the connection; its webhook subscriptions are removed from
    Planning Center when it answers (the members stay)."""
    connection = connection_of(tenant)
    client = client_for(connection)
    for sub in connection.subscriptions:
        _quietly(client.unsubscribe, sub["id"])
    connection.delete()


def _quietly(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except PlanningCenterError:
        pass  # a subscription left behind only posts to a URL that answers 404


def available_lists(tenant: Tenant) -> list[dict[str, str]]:
    return client_for(connection_of(tenant)).lists()
