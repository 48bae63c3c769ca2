"""Planning Center's people written into the church's members, a page at a time.

Planning Center is the source of a synced member's name, phone and email; the
church keeps its own tags, notes and branch. A person is matched by the
person id a member remembers (`ExternalLink`), then by phone. What is already
as Planning Center says is not written again: a re-sync with nothing changed
writes nothing.

Fail closed on consent: a sync never clears `opted_out`; a member it creates,
or moves to a new phone, is opted out when that phone is; an erased person
(their member id or their phone's keyed hash in the registry's erasures) is
never re-created. People sharing one phone: the first keeps the member.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from integrations.people import Person
from members.consent import record_consent, refused
from members.models import ExternalLink, Member, MemberTag, Suppression
from members.services import created
from tenants.context import require_tenant, tenant_atomic
from tenants.models import PrivacyEvent
from tenants.privacy import phone_hash

SOURCE = "planning_center"
TAG_PREFIX = "pco:"
# Never `opted_out`: a STOP handled while a page is applied must not be undone.
FIELDS = ["first_name", "last_name", "phone", "email", "updated_at"]


def list_tag(name: str) -> str:
    return (TAG_PREFIX + name.strip())[:50]


@dataclass
class Tally:
    seen: int = 0
    created: int = 0
    updated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.seen += other.seen
        self.created += other.created
        self.updated += other.updated
        self.skipped.update(other.skipped)


@dataclass
class SyncState:
    """What a run reads once: links, erasures, and the phones it gave out."""

    actor: str
    links: dict[str, uuid.UUID]  # person id -> member id
    erased_members: set[uuid.UUID]
    erased_hashes: set[str]
    phones: dict[str, str] = field(default_factory=dict)  # phone -> person id
    seen: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, actor: str, person_ids: list[str] | None = None) -> SyncState:
        links = ExternalLink.objects.filter(source=SOURCE)
        if person_ids is not None:
            links = links.filter(external_id__in=person_ids)
        return cls(
            actor=actor,
            links=dict(links.values_list("external_id", "member_id")),
            erased_members=set(),  # read by each page (`apply_people`)
            erased_hashes=set(),
        )

    def read_erasures(self, people: list[Person]) -> None:
        """The erasures that concern `people`, as of now (read for every page:
        someone erased while a run goes on is not re-created by its later pages)."""
        linked = [self.links[p.person_id] for p in people if p.person_id in self.links]
        hashes = [phone_hash(p.phone) for p in people if p.phone]
        erasures = (
            PrivacyEvent.objects.filter(
                tenant_id=require_tenant().pk, kind=PrivacyEvent.Kind.ERASURE
            )
            .filter(Q(member_id__in=linked) | Q(phone_hash__in=hashes))
            .values_list("member_id", "phone_hash")
        )
        self.erased_members = {m for m, _ in erasures if m}
        self.erased_hashes = {h for _, h in erasures}

    def erased(self, person: Person) -> bool:
        if self.links.get(person.person_id) in self.erased_members:
            return True
        return (
            bool(self.erased_hashes) and phone_hash(person.phone) in self.erased_hashes
        )


def apply_people(people: list[Person], tag: str | None, state: SyncState) -> Tally:
    """Create or update the members for `people` (on the list tagged `tag`)."""
    tally = Tally()
    state.read_erasures(people)
    with tenant_atomic():
        _apply(people, tag, state, tally)
    return tally


def _apply(
    people: list[Person], tag: str | None, state: SyncState, tally: Tally
) -> None:
    phones = [p.phone for p in people if p.phone]
    linked = [state.links[p.person_id] for p in people if p.person_id in state.links]
    by_id = {m.pk: m for m in Member.objects.filter(pk__in=linked)}
    by_phone = {m.phone: m for m in Member.objects.filter(phone__in=phones)}
    person_of = {
        member_id: person_id
        for person_id, member_id in ExternalLink.objects.filter(
            source=SOURCE, member_id__in=[m.pk for m in by_phone.values()]
        ).values_list("external_id", "member_id")
    }
    stopped = refused(phones)
    now = timezone.now()
    new: list[Member] = []
    changed: list[Member] = []
    links: dict[str, uuid.UUID] = {}  # person id -> member id, to write
    members: list[Member] = []  # to carry the list's tag
    for person in people:
        first = person.person_id not in state.seen  # a person on two lists counts once
        if first:
            state.seen.add(person.person_id)
            tally.seen += 1
        member = _match(person, state, by_id, by_phone, person_of)
        if isinstance(member, str):
            tally.skipped[member] += first
            continue
        state.phones[person.phone] = person.person_id
        if member._state.adding:
            member.opted_out = person.phone in stopped
            new.append(member)
        elif _update(member, person, now):
            changed.append(member)
        if state.links.get(person.person_id) != member.pk:
            links[person.person_id] = member.pk
        members.append(member)
    Member.objects.bulk_create(new, batch_size=1000)
    created(new)
    record_consent(new, source="integration", actor=state.actor, detail=SOURCE)
    Member.objects.bulk_update(changed, FIELDS, batch_size=1000)
    if new or changed:
        # A phone that said STOP (also while this page was read) is flagged:
        # the sync only ever sets the flag, never clears it.
        Member.objects.filter(pk__in=[m.pk for m in (*new, *changed)]).filter(
            Q(phone__in=stopped) | Q(phone__in=Suppression.objects.values("phone")),
            opted_out=False,
        ).update(opted_out=True)
    tally.created += len(new)
    tally.updated += len(changed)
    _write_links(links, state)
    if tag:
        _add_tag(tag, members)


def _match(
    person: Person,
    state: SyncState,
    by_id: dict[uuid.UUID, Member],
    by_phone: dict[str, Member],
    person_of: dict[uuid.UUID, str],
) -> Member | str:
    """The member `person` is (a new one when none), or why they are skipped."""
    reason = person.problem
    if (
        not reason
        and state.phones.get(person.phone, person.person_id) != person.person_id
    ):
        reason = "shared_phone"  # a family number: an earlier person has it
    if not reason and state.erased(person):
        reason = "erased"
    member = by_id.get(state.links.get(person.person_id))  # type: ignore[arg-type]
    holder = by_phone.get(person.phone) if not reason else None
    if holder is not None and (member is None or holder.pk != member.pk):
        owner = person_of.get(holder.pk)
        if member is not None or (owner is not None and owner != person.person_id):
            reason = "shared_phone"  # someone else's member has that phone
        else:
            member = holder  # a member the church made: from now on, synced
    if reason:
        return reason
    if member is None:
        member = Member(
            first_name=person.first_name,
            last_name=person.last_name,
            phone=person.phone,
            email=person.email,
        )
        by_phone[person.phone] = member
    return member


def _update(member: Member, person: Person, now: datetime) -> bool:
    wanted = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "phone": person.phone,
        "email": person.email,
    }
    if all(getattr(member, k) == v for k, v in wanted.items()):
        return False
    for name, value in wanted.items():
        setattr(member, name, value)
    member.updated_at = now
    return True


def _write_links(links: dict[str, uuid.UUID], state: SyncState) -> None:
    if not links:
        return
    fresh = [p for p in links if p not in state.links]
    ExternalLink.objects.bulk_create(
        [ExternalLink(source=SOURCE, external_id=p, member_id=links[p]) for p in fresh]
    )
    for person_id, member_id in links.items():
        if person_id not in fresh:  # re-made after staff deleted the member
            ExternalLink.objects.filter(source=SOURCE, external_id=person_id).update(
                member_id=member_id
            )
    state.links.update(links)


def _add_tag(tag: str, members: list[Member]) -> None:
    ids = [m.pk for m in members]
    have = set(
        MemberTag.objects.filter(name=tag, member_id__in=ids).values_list(
            "member_id", flat=True
        )
    )
    MemberTag.objects.bulk_create(
        [
            MemberTag(member_id=pk, name=tag)
            for pk in dict.fromkeys(ids)
            if pk not in have
        ]
    )


def drop_tag(tag: str, person_ids: set[str], state: SyncState) -> int:
    """`tag` off every member but those of `person_ids` (a list's people now)."""
    keep = {state.links[p] for p in person_ids if p in state.links}
    with tenant_atomic():
        gone = [
            pk
            for pk in MemberTag.objects.filter(name=tag).values_list(
                "member_id", flat=True
            )
            if pk not in keep
        ]
        for start in range(0, len(gone), 2000):
            MemberTag.objects.filter(
                name=tag, member_id__in=gone[start : start + 2000]
            ).delete()
    return len(gone)


def drop_other_tags(tags: set[str]) -> int:
    """`pco:*` tags of lists no longer chosen (or gone from Planning Center)."""
    stale = MemberTag.objects.filter(name__startswith=TAG_PREFIX).exclude(name__in=tags)
    if not stale.exists():  # nothing changed, nothing written
        return 0
    deleted, _ = stale.delete()
    return deleted


def forget_person(person_id: str) -> int:
    """A person deleted in Planning Center: their member loses the `pco:*` tags."""
    member_id = (
        ExternalLink.objects.filter(source=SOURCE, external_id=person_id)
        .values_list("member_id", flat=True)
        .first()
    )
    if member_id is None:
        return 0
    deleted, _ = MemberTag.objects.filter(
        member_id=member_id, name__startswith=TAG_PREFIX
    ).delete()
    return deleted
