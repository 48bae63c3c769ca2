"""Writing a member: the row and its tags together, phones unique under races."""

from __future__ import annotations

from django.db import IntegrityError
from rest_framework.exceptions import ValidationError

from members.models import Member, MemberTag
from tenants.context import tenant_atomic


def save_member(member: Member, fields: dict) -> Member:
    """Create or update `member` from validated fields (`tag_links`: tag names)."""
    from messaging.models import Suppression

    fields = dict(fields)
    tags = fields.pop("tag_links", None)
    if member._state.adding:
        # A number that texted STOP stays opted out when it becomes a member.
        fields["opted_out"] = Suppression.objects.filter(phone=fields["phone"]).exists()
    try:
        with tenant_atomic():
            for name, value in fields.items():
                setattr(member, name, value)
            member.save()
            if tags is not None:
                _set_tags(member, tags)
    except IntegrityError as exc:  # the phone was taken a moment ago
        raise ValidationError(
            {"phone": ["A member with this phone already exists."]}
        ) from exc
    return member


def _set_tags(member: Member, tags: list[str]) -> None:
    member.tag_links.exclude(name__in=tags).delete()
    existing = set(member.tag_links.values_list("name", flat=True))
    MemberTag.objects.bulk_create(
        [MemberTag(member=member, name=t) for t in tags if t not in existing]
    )
