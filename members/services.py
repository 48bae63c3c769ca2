"""Writing a member: the row and its tags together, phones unique under races;
each creation, branch move and deletion kept in the daily statistics."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import IntegrityError

from members.consent import may_text, record_consent
from members.errors import PhoneTaken
from members.models import Member, MemberTag
from stats.rollup import bump, local_day
from tenants.context import tenant_atomic


def save_member(member: Member, fields: dict[str, Any], *, actor: str) -> Member:
    """Create or update `member` from validated fields (`tag_links`: tag names).

    `actor` (`consent.actor_of`) is recorded as having given a new member's
    consent.
    """
    fields = dict(fields)
    tags = fields.pop("tag_links", None)
    adding = member._state.adding
    branch_before = member.branch_id
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
                bump(local_day(member.created_at), member.branch_id, new_members=1)
            elif member.branch_id != branch_before:
                moved([(member, branch_before)])
    except IntegrityError as exc:  # the phone was taken a moment ago
        raise PhoneTaken() from exc
    return member


def _set_tags(member: Member, tags: list[str]) -> None:
    member.tag_links.exclude(name__in=tags).delete()
    existing = set(member.tag_links.values_list("name", flat=True))
    MemberTag.objects.bulk_create(
        [MemberTag(member=member, name=t) for t in tags if t not in existing]
    )


def moved(members: list[tuple[Member, Any]]) -> None:
    """Members whose branch changed (each with its old one): their count moves."""
    for member, before in members:
        day = local_day(member.created_at)
        bump(day, before, new_members=-1)
        bump(day, member.branch_id, new_members=1)


def created(members: list[Member]) -> None:
    """Count members written in bulk (an import)."""
    days = Counter((local_day(m.created_at), m.branch_id) for m in members)
    for (day, branch), n in days.items():
        bump(day, branch, new_members=n)


def delete_members(members: list[Member]) -> int:
    """Delete loaded members (their tags go too); they no longer count as new."""
    with tenant_atomic():
        days = Counter((local_day(m.created_at), m.branch_id) for m in members)
        for (day, branch), n in days.items():
            bump(day, branch, new_members=-n)
        for member in members:
            member.delete()
    return len(members)
