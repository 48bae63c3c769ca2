"""Members to and from CSV: `first_name,last_name,phone,email,branch,tags`.

An imported file's header names its columns in any order; only `first_name`
and `phone` are required, and other columns are ignored (and listed). Import
matches by phone, so the same file twice creates nothing new; a bad row
is reported with its line number and never stops the good ones (a file the csv
module cannot read at all is a 400). Export writes what import reads back
unchanged.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone

from branches.models import Branch
from members.consent import record_consent, refused
from members.errors import UnreadableFile
from members.models import Member, MemberTag
from members.services import created, moved
from sms.phones import InvalidPhone, to_e164
from tenants.context import require_tenant, tenant_atomic

COLUMNS = ["first_name", "last_name", "phone", "email", "branch", "tags"]
REQUIRED = ["first_name", "phone"]
FIELDS = ["first_name", "last_name", "email", "branch_id"]
MAX_ROWS = 50_000
LIMITS = {"first_name": 100, "last_name": 100, "email": 254, "tags": 50}


@dataclass
class ImportReport:
    # Names this import in the consent records of the members it created.
    import_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[dict] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    phone: str
    values: dict
    tags: list[str]


def _reader(data: bytes, report: ImportReport) -> csv.DictReader:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("The file must be UTF-8 encoded CSV.") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        names = reader.fieldnames or []
    except csv.Error as exc:
        raise UnreadableFile(f"Line 1: unreadable CSV ({exc}).") from exc
    header = [name.strip().lower() for name in names]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise UnreadableFile(
            f"The header must name {' and '.join(REQUIRED)} (missing: "
            f"{', '.join(missing)}; known columns: {','.join(COLUMNS)})."
        )
    repeated = sorted({n for n in header if n in COLUMNS and header.count(n) > 1})
    if repeated:
        raise UnreadableFile(f"The header names {', '.join(repeated)} twice.")
    report.ignored_columns = [n for n in header if n not in COLUMNS]
    reader.fieldnames = header
    return reader


def _parse(record: dict, line: int, country: str, branches: dict[str, Branch]) -> _Row:
    if None in record:
        raise ValueError("This row has more columns than the header.")
    values = {name: (record.get(name) or "").strip() for name in COLUMNS}
    if not values["first_name"]:
        raise ValueError("first_name is required.")
    for name in ("first_name", "last_name", "email"):
        if len(values[name]) > LIMITS[name]:
            raise ValueError(f"{name} is longer than {LIMITS[name]} characters.")
    try:
        phone = to_e164(values["phone"], country)
    except InvalidPhone as exc:
        raise ValueError(f"Invalid phone number {values['phone']!r}.") from exc
    if values["email"]:
        try:
            validate_email(values["email"])
        except DjangoValidationError as exc:
            raise ValueError(f"Invalid email {values['email']!r}.") from exc
    branch = None
    if values["branch"]:
        branch = branches.get(values["branch"].casefold())
        if branch is None:
            raise ValueError(f"Unknown branch {values['branch']!r}.")
    tags = sorted({t.strip() for t in values["tags"].split(";") if t.strip()})
    if any(len(t) > LIMITS["tags"] for t in tags):
        raise ValueError(f"Tags are at most {LIMITS['tags']} characters.")
    return _Row(
        line=line,
        phone=phone,
        values={
            "first_name": values["first_name"],
            "last_name": values["last_name"],
            "email": values["email"],
            "branch_id": branch.id if branch else None,
        },
        tags=tags,
    )


def import_members(data: bytes, *, actor: str) -> ImportReport:
    """Create or update members from CSV bytes (see the module docstring).

    New members' consent is recorded as given by this import, by `actor`.
    """
    report = ImportReport()
    reader = _reader(data, report)
    country = require_tenant().country
    branches = {b.name.casefold(): b for b in Branch.objects.all()}
    rows: dict[str, _Row] = {}  # by phone: a repeated phone updates the earlier row
    records = iter(reader)
    for index in range(MAX_ROWS + 1):
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field past the csv module's size limit
            raise UnreadableFile(
                f"Line {reader.line_num}: unreadable CSV ({exc})."
            ) from exc
        line = reader.line_num  # the file's line (quoted fields may span lines)
        if index == MAX_ROWS:
            report.errors.append({"row": line, "message": f"Over {MAX_ROWS} rows."})
            break
        if any("\x00" in value for value in record.values() if isinstance(value, str)):
            # PostgreSQL refuses NUL in text: this row alone is bad input.
            report.errors.append({"row": line, "message": "Contains a NUL byte."})
            continue
        try:
            row = _parse(record, line, country, branches)
        except ValueError as exc:
            report.errors.append({"row": line, "message": str(exc)})
            continue
        rows[row.phone] = row
    with tenant_atomic():
        _apply(rows, report, actor)
    return report


def _apply(rows: dict[str, _Row], report: ImportReport, actor: str) -> None:
    phones = list(rows)
    existing: dict[str, Member] = {}
    for start in range(0, len(phones), 2000):
        for member in Member.objects.filter(phone__in=phones[start : start + 2000]):
            existing[member.phone] = member
    tags_of: dict[uuid.UUID, set[str]] = {}
    for start in range(0, len(phones), 2000):
        chunk = [existing[p].pk for p in phones[start : start + 2000] if p in existing]
        for member_id, name in MemberTag.objects.filter(
            member_id__in=chunk
        ).values_list("member_id", "name"):
            tags_of.setdefault(member_id, set()).add(name)
    suppressed = refused(phones)
    new, changed, tag_rows, stale_tags = [], [], [], []
    moves: list[tuple[Member, Any]] = []  # members whose branch changes, its old one
    now = timezone.now()
    for phone, row in rows.items():
        member = existing.get(phone)
        if member is None:
            member = Member(phone=phone, opted_out=phone in suppressed, **row.values)
            new.append(member)
            tag_rows += [MemberTag(member=member, name=t) for t in row.tags]
            continue
        current_tags = tags_of.get(member.pk, set())
        same = all(getattr(member, k) == v for k, v in row.values.items())
        if same and current_tags == set(row.tags):
            report.skipped += 1
            continue
        if member.branch_id != row.values["branch_id"]:
            moves.append((member, member.branch_id))
        for name, value in row.values.items():
            setattr(member, name, value)
        member.updated_at = now
        changed.append(member)
        if current_tags != set(row.tags):
            stale_tags.append(member.pk)
            tag_rows += [MemberTag(member=member, name=t) for t in row.tags]
    Member.objects.bulk_create(new, batch_size=1000)
    created(new)
    if changed:
        Member.objects.bulk_update(changed, [*FIELDS, "updated_at"], batch_size=1000)
        moved(moves)
    for start in range(0, len(stale_tags), 2000):
        MemberTag.objects.filter(
            member_id__in=stale_tags[start : start + 2000]
        ).delete()
    MemberTag.objects.bulk_create(tag_rows, batch_size=2000)
    record_consent(new, source="import", actor=actor, detail=report.import_id)
    report.created += len(new)
    report.updated += len(changed)


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_rows(members: Iterable[Member]) -> Iterator[str]:
    """CSV lines, header first, for a streaming response."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for member in members:
        yield writer.writerow(
            [
                member.first_name,
                member.last_name,
                member.phone,
                member.email,
                member.branch.name if member.branch else "",
                ";".join(sorted(tag.name for tag in member.tag_links.all())),
            ]
        )
