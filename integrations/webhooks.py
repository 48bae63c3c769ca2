"""Planning Center's webhooks: verified, handled once, applied to one person.

A delivery is verified before anything is read: `X-PCO-Webhooks-Authenticity`
is the hex HMAC-SHA256 of the raw body with the authenticity secret of one of
the connection's subscriptions. `X-PCO-Webhooks-Event-ID` makes a redelivery
a no-op. The person it names is fetched from Planning Center and applied like a
page of one when the church already syncs them (a person not yet on a chosen
list arrives with the next full sync: an event does not say which lists a
person is on); a deleted person's member loses the `pco:*` tags.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.db import IntegrityError, transaction

from api.errors import InvalidSignature
from integrations.apply import SyncState, apply_people, forget_person
from integrations.connection import client_for
from integrations.models import PlanningCenterConnection, WebhookEvent
from integrations.pco_client import Gone
from integrations.people import people_of
from tenants.context import require_tenant
from tenants.secrets import decrypt


def verify(connection: PlanningCenterConnection, body: bytes, signature: str) -> None:
    for sub in connection.subscriptions:
        expected = hmac.new(decrypt(sub["secret"]).encode(), body, hashlib.sha256)
        if signature and hmac.compare_digest(
            expected.hexdigest().encode(), signature.encode()
        ):
            return
    raise InvalidSignature()


def events(body: bytes) -> list[tuple[str, str, str]]:
    """(event id, name, person id) of each delivery in a verified body."""
    try:
        deliveries = json.loads(body).get("data") or []
        found = []
        for delivery in deliveries if isinstance(deliveries, list) else [deliveries]:
            attributes = delivery.get("attributes") or {}
            payload = json.loads(attributes.get("payload") or "{}").get("data") or {}
            found.append(
                (str(delivery["id"]), str(attributes["name"]), _person_id(payload))
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        return []
    return found


def _person_id(resource: dict[str, Any]) -> str:
    if resource.get("type") == "Person":
        return str(resource.get("id") or "")
    person = ((resource.get("relationships") or {}).get("person") or {}).get("data")
    return str((person or {}).get("id") or "")


def first_time(
    connection: PlanningCenterConnection, event_id: str, name: str
) -> WebhookEvent | None:
    """Note the event; None when it was handled before."""
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                connection=connection, event_id=event_id[:64], name=name[:100]
            )
    except IntegrityError:
        return None


def apply_event(name: str, person_id: str) -> int:
    """Apply one event to the current church: how many members changed."""
    connection = PlanningCenterConnection.objects.get(tenant=require_tenant())
    if name.endswith("person.destroyed"):
        return forget_person(person_id)
    state = SyncState.load(connection.connected_by, [person_id])
    if person_id not in state.links:
        return 0
    try:
        answer = client_for(connection).person(person_id)
    except Gone:
        return forget_person(person_id)
    page = {"data": [answer.get("data") or {}], "included": answer.get("included")}
    people = people_of(page, require_tenant().country)
    tally = apply_people(people, None, state)
    return tally.created + tally.updated
