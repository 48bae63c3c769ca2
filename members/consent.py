"""Whether a phone may be texted: the one answer every sender asks for.

A phone opts out for the whole church (every number, every branch): STOP, the
carrier's 21610, or staff write a `Suppression` row, and members with that
phone are flagged `opted_out` in the same transaction so lists can filter on
it. The row is the truth; the flag is its copy on the member.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import Q

from members.models import Member, Suppression
from tenants.context import tenant_atomic


def may_text(phone: str, member: Member | None = None) -> bool:
    """Whether `phone` (and the member it belongs to, if known) may get a text."""
    if member is not None and member.opted_out:
        return False
    return not Suppression.objects.filter(phone=phone).exists()


def refused(phones: list[str]) -> set[str]:
    """The phones among `phones` that `may_text` refuses (for bulk imports)."""
    found: set[str] = set()
    for start in range(0, len(phones), 2000):
        chunk = phones[start : start + 2000]
        found.update(
            Suppression.objects.filter(phone__in=chunk).values_list("phone", flat=True)
        )
    return found


def opted_out() -> Q:
    """The members `may_text` refuses, as a filter for bulk sends."""
    return Q(opted_out=True) | Q(phone__in=Suppression.objects.values("phone"))


def suppress(*, phone: str, source: str) -> bool:
    """Opt `phone` out; returns whether it was newly suppressed."""
    with tenant_atomic():
        try:
            with tenant_atomic():
                Suppression.objects.create(phone=phone, source=source)
            created = True
        except IntegrityError:
            created = False
        Member.objects.filter(phone=phone).update(opted_out=True)
    return created


def unsuppress(*, phone: str) -> bool:
    """Opt `phone` back in (START); returns whether it was suppressed."""
    with tenant_atomic():
        deleted, _ = Suppression.objects.filter(phone=phone).delete()
        Member.objects.filter(phone=phone).update(opted_out=False)
    return bool(deleted)
