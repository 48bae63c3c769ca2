"""A body rendered for one member: the values its placeholders take."""

from __future__ import annotations

from members.models import Member
from sms.segments import SegmentInfo, count_segments
from templates_app.placeholders import render
from tenants.context import require_tenant


def values_for(member: Member) -> dict[str, str]:
    full_name = f"{member.first_name} {member.last_name}".strip()
    return {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "full_name": full_name,
        "branch_name": member.branch.name if member.branch_id else "",
        "church_name": require_tenant().name,
    }


def render_for(body: str, member: Member) -> tuple[str, SegmentInfo]:
    """The body as this member receives it, and its segments (counted after)."""
    text = render(body, values_for(member))
    return text, count_segments(text)
