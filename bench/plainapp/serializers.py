"""members.serializers.MemberSerializer and members.services (save, delete),
with the country fixed and the one database's transactions (no tenant): the
same statements, the consent record and the day's count included."""

import hashlib
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from rest_framework import serializers

from bench.plainapp.models import Branch, ConsentRecord, Member, MemberTag, Suppression
from bench.product import InvalidPhone, to_e164

COUNTRY = "US"
TAKEN = "A member with this phone already exists."
ZONE = ZoneInfo("America/Chicago")
NO_BRANCH = "00000000-0000-0000-0000-000000000000"
COUNT = (
    "INSERT INTO stats_dailystat (day, branch, new_members) VALUES (%s, %s, %s) ON "
    "CONFLICT (day, branch) DO UPDATE SET new_members = stats_dailystat.new_members"
    " + excluded.new_members"
)  # stats.rollup.bump's upsert of a new member on its day


class TagListField(serializers.ListField):
    child = serializers.CharField(max_length=50, allow_blank=False)

    def __init__(self, **kwargs):
        super().__init__(max_length=50, **kwargs)

    def to_representation(self, value):
        if hasattr(value, "all"):
            return sorted(tag.name for tag in value.all())
        return value


class MemberSerializer(serializers.ModelSerializer):
    branch = serializers.PrimaryKeyRelatedField(
        queryset=Branch.objects.all(), allow_null=True, required=False
    )
    tags = TagListField(source="tag_links", required=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)

    class Meta:
        model = Member
        fields = ["id", "first_name", "last_name", "phone", "email", "branch",
                  "tags", "status", "opted_out", "notes", "created_at",
                  "updated_at"]  # fmt: skip
        read_only_fields = ["id", "opted_out", "created_at", "updated_at"]
        extra_kwargs = {"phone": {"validators": []}, "notes": {"max_length": 5000}}

    def validate_phone(self, value: str) -> str:
        try:
            phone = to_e164(value, COUNTRY)
        except InvalidPhone as exc:
            raise serializers.ValidationError(str(exc)) from exc
        clash = Member.objects.filter(phone=phone)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(TAKEN)
        return phone

    def validate_tags(self, value: list[str]) -> list[str]:
        return sorted({tag.strip() for tag in value if tag.strip()})

    def create(self, validated_data):
        return save_member(Member(), validated_data)

    def update(self, instance, validated_data):
        return save_member(instance, validated_data)


def save_member(member: Member, fields: dict) -> Member:
    fields = dict(fields)
    tags = fields.pop("tag_links", None)
    adding = member._state.adding
    if adding:
        fields["opted_out"] = Suppression.objects.filter(phone=fields["phone"]).exists()
    try:
        with transaction.atomic():
            for name, value in fields.items():
                setattr(member, name, value)
            member.save()
            if tags is not None:
                _set_tags(member, tags)
            if adding:
                hashed = hashlib.sha256(member.phone.encode()).hexdigest()
                ConsentRecord.objects.create(
                    member_id=member.pk, branch_id=member.branch_id, phone=member.phone,
                    phone_hash=hashed, kind="consent", source="staff", actor="bench",
                )  # fmt: skip
                _count(member, 1)
    except IntegrityError as exc:
        raise serializers.ValidationError({"phone": [TAKEN]}) from exc
    return member


def _set_tags(member: Member, tags: list[str]) -> None:
    member.tag_links.exclude(name__in=tags).delete()
    existing = set(member.tag_links.values_list("name", flat=True))
    MemberTag.objects.bulk_create(
        [MemberTag(member=member, name=t) for t in tags if t not in existing]
    )


def delete_member(member: Member) -> None:
    with transaction.atomic():
        _count(member, -1)
        member.delete()


def _count(member: Member, n: int) -> None:
    day = member.created_at.astimezone(ZONE).date()
    with connection.cursor() as cursor:
        cursor.execute(COUNT, [day, member.branch_id or NO_BRANCH, n])
