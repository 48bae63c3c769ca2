"""Planning Center's people as members: which number, which email.

A person's number is their **mobile** one (the primary mobile if several),
else their primary number, else the first; none, or one that is not a phone
number in the church's country, and the person is skipped with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.pco_client import text
from sms.phones import InvalidPhone, to_e164

Included = dict[tuple[Any, str], dict[str, Any]]  # (type, id) -> resource


@dataclass(frozen=True)
class Person:
    person_id: str
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164, or "" with `problem` saying why
    problem: str = ""


def _pick(items: list[dict[str, Any]], *, mobile: bool) -> dict[str, Any] | None:
    if mobile:
        mobiles = [i for i in items if str(i.get("location", "")).lower() == "mobile"]
        items = sorted(mobiles, key=lambda i: not i.get("primary"))
        return items[0] if items else None
    primary = [i for i in items if i.get("primary")]
    return (primary or items)[0] if items else None


def _related(
    resource: dict[str, Any], name: str, included: Included
) -> list[dict[str, Any]]:
    links = _dict(_dict(resource.get("relationships")).get(name)).get("data") or []
    found = []
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict):
            continue
        item = included.get((link.get("type"), str(link.get("id"))))
        if item is not None and isinstance(item.get("attributes"), dict):
            found.append(item["attributes"])
    return found


def people_of(page: dict[str, Any], country: str) -> list[Person]:
    """The people on one JSON:API page (with phone numbers and emails included)."""
    included = {
        (item.get("type"), str(item.get("id"))): item
        for item in page.get("included") or []
        if isinstance(item, dict)
    }
    data = page.get("data") or []
    return [
        person_of(item, included, country)
        for item in data
        if isinstance(item, dict) and text(item.get("id"), 64)  # a person has an id
    ]


def person_of(resource: dict[str, Any], included: Included, country: str) -> Person:
    attributes = _dict(resource.get("attributes"))
    phones = _related(resource, "phone_numbers", included)
    emails = _related(resource, "emails", included)
    chosen = _pick(phones, mobile=True) or _pick(phones, mobile=False)
    email = _pick(emails, mobile=False)
    phone, problem = "", ""
    if chosen is None:
        problem = "no_phone"
    else:
        raw = str(chosen.get("e164") or chosen.get("number") or "")
        try:
            phone = to_e164(raw, country)
        except InvalidPhone:
            problem = "invalid_phone"
    first = text(attributes.get("first_name"), 100)
    return Person(
        person_id=text(resource.get("id"), 64),
        first_name=first or "(no name)",
        last_name=text(attributes.get("last_name"), 100),
        email=text((email or {}).get("address"), 254),
        phone=phone,
        problem=problem,
    )


def _dict(value: Any) -> dict[str, Any]:
    """`value` if it is an object; anything else Planning Center sent reads as none."""
    return value if isinstance(value, dict) else {}
