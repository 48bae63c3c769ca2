"""Whether a phone may be texted, and the record of how that came to be.

A phone opts out for the whole church (every number, every branch): STOP, the
carrier's 21610, or staff write a `Suppression` row, and members with that
phone are flagged `opted_out` in the same transaction so lists can filter on
it. The row is the truth; the flag is its copy on the member. An erased
phone that had opted out is kept only as its keyed hash (`ErasedSuppression`)
and is refused just the same.

Every consent and revocation is also a `ConsentRecord` in the church's
database, and every opt-out and opt-in an event in the registry
(`tenants.privacy`), which a restore from an older backup re-applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import IntegrityError, connections, models, router
from django.db.models import Q

from members.models import ConsentRecord, ErasedSuppression, Member, Suppression
from stats.rollup import bump, local_day
from tenants.context import tenant_atomic
from tenants.models import PrivacyEvent
from tenants.privacy import phone_hash, record_event

INBOUND = "inbound"  # the actor of what a text from the phone itself did


def may_text(phone: str, member: Member | None = None) -> bool:
    """Whether `phone` (and the member it belongs to, if known) may get a text."""
    if member is not None and member.opted_out:
        return False
    if member is not None:
        # A member made with an erased, opted-out phone is made flagged: the
        # hash need not be asked again for every message sent to one.
        return not Suppression.objects.filter(phone=phone).exists()
    return not _on_either_list(phone)


def _on_either_list(phone: str) -> bool:
    """Whether `phone` opted out, or is an erased phone that had: one round
    trip, in SQL of its own (the ORM's UNION took longer to build than the
    database took to answer it, on every member created)."""
    connection = connections[router.db_for_read(Suppression)]
    quote = connection.ops.quote_name

    def listed(model: type[models.Model], name: str) -> str:
        field = model._meta.get_field(name)
        if not isinstance(field, models.Field) or field.column is None:
            raise TypeError(f"{model.__name__}.{name} is not a column")
        table, column = model._meta.db_table, field.column
        return f"EXISTS (SELECT 1 FROM {quote(table)} WHERE {quote(column)} = %s)"

    stopped = listed(Suppression, "phone")
    sql = f"SELECT {stopped} OR {listed(ErasedSuppression, 'phone_hash')}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [phone, phone_hash(phone)])
        return bool(cursor.fetchone()[0])


def refused(phones: list[str]) -> set[str]:
    """The phones among `phones` that `may_text` refuses (for bulk imports)."""
    found: set[str] = set()
    for start in range(0, len(phones), 2000):
        chunk = phones[start : start + 2000]
        found.update(
            Suppression.objects.filter(phone__in=chunk).values_list("phone", flat=True)
        )
        hashes = {phone_hash(phone): phone for phone in chunk}
        found.update(
            hashes[h]
            for h in ErasedSuppression.objects.filter(
                phone_hash__in=list(hashes)
            ).values_list("phone_hash", flat=True)
        )
    return found


def opted_out() -> Q:
    """The members `may_text` refuses, as a filter for bulk sends.

    A member re-created with an erased, opted-out phone is created flagged.
    """
    return Q(opted_out=True) | Q(phone__in=Suppression.objects.values("phone"))


def _record(
    kind: str, *, phone: str, source: str, actor: str, detail: str = ""
) -> None:
    members = list(Member.objects.filter(phone=phone).values_list("pk", "branch_id"))
    branch = members[0][1] if members else None
    record = ConsentRecord.objects.create(
        member_id=members[0][0] if members else None,
        branch_id=branch,
        phone=phone,
        phone_hash=phone_hash(phone),
        kind=kind,
        source=source,
        detail=detail[:64],
        actor=actor,
    )
    if kind == ConsentRecord.Kind.REVOKED:  # an opt-out, on the statistics
        bump(local_day(record.created_at), branch, opt_outs=1)


def suppress(
    *, phone: str, source: str, actor: str, detail: str = "", record: bool = True
) -> bool:
    """Opt `phone` out; returns whether it was newly suppressed.

    `source` is a `ConsentRecord.Source`; `detail` the word received, if any;
    `record=False` when a restore re-applies the registry's own event.
    """
    if record:
        record_event(PrivacyEvent.Kind.OPT_OUT, phone=phone, source=source)
    with tenant_atomic():
        try:
            with tenant_atomic():
                Suppression.objects.create(phone=phone, source=source)
            created = True
        except IntegrityError:
            created = False
        Member.objects.filter(phone=phone).update(opted_out=True)
        _record(
            ConsentRecord.Kind.REVOKED,
            phone=phone,
            source=source,
            actor=actor,
            detail=detail,
        )
    return created


def unsuppress(
    *, phone: str, source: str, actor: str, detail: str = "", record: bool = True
) -> bool:
    """Opt `phone` back in (START, or staff); returns whether it was suppressed."""
    if record:
        record_event(PrivacyEvent.Kind.OPT_IN, phone=phone, source=source)
    with tenant_atomic():
        deleted, _ = Suppression.objects.filter(phone=phone).delete()
        ErasedSuppression.objects.filter(phone_hash=phone_hash(phone)).delete()
        Member.objects.filter(phone=phone).update(opted_out=False)
        _record(
            ConsentRecord.Kind.CONSENT,
            phone=phone,
            source=source,
            actor=actor,
            detail=detail,
        )
    return bool(deleted)


def record_consent(
    members: Iterable[Member], *, source: str, actor: str, detail: str = ""
) -> None:
    """Note that `members` (just created, not opted out) were given to be texted."""
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                member_id=member.pk,
                branch_id=member.branch_id,
                phone=member.phone,
                phone_hash=phone_hash(member.phone),
                kind=ConsentRecord.Kind.CONSENT,
                source=source,
                detail=detail[:64],
                actor=actor,
            )
            for member in members
            if not member.opted_out
        ],
        batch_size=1000,
    )


def actor_of(user_id: uuid.UUID | str | None) -> str:
    """How a consent record names who acted: a user id, or "system"."""
    return str(user_id) if user_id else "system"
