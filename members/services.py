"""Writing a member: the row and its tags together, phones unique under races."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError

from members.consent import may_text, record_consent
from members.errors import PhoneTaken
from members.models import Member, MemberTag
from tenants.context import tenant_atomic


def save_member(member: Member, fields: dict[str, Any], *, actor: str) -> Member:
    """Create or update `member` from validated fields (`tag_links`: tag names).

    `actor` (`consent.actor_of`) is recorded as having given a new member's
    consent.
    """
    fields = dict(fields)
    tags = fields.pop("tag_links", None)
    adding = member._state.adding
    if adding:
        # A number that texted STOP stays opted out when it becomes a member.
        fields["opted_out"] = not may_text(fields["phone"])
    try:
        with tenant_atomic():
            for name, value in fields.items():
                setattr(member, name, value)
            member.save()
            if tags is not None:
                _set_tags(member, tags)
            if adding:
                record_consent([member], source="staff", actor=actor)
    except IntegrityError as exc:  # the phone was taken a moment ago
        raise PhoneTaken() from exc
    return member


def _set_tags(member: Member, tags: list[str]) -> None:
    member.tag_links.exclude(name__in=tags).delete()
    existing = set(member.tag_links.values_list("name", flat=True))
    MemberTag.objects.bulk_create(
        [MemberTag(member=member, name=t) for t in tags if t not in existing]
    )
