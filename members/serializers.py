from rest_framework import serializers

from branches.models import Branch
from members.consent import actor_of
from members.models import Member
from members.services import save_member
from sms.fields import PhoneField
from tenants.context import tenant_country


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
    # Uniqueness is checked on the E.164 form, in validate_phone.
    phone = PhoneField(country=tenant_country)

    class Meta:
        model = Member
        fields = [
            "id",
            "first_name",
            "last_name",
            "phone",
            "email",
            "branch",
            "tags",
            "status",
            "opted_out",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "opted_out", "created_at", "updated_at"]
        extra_kwargs = {
            "notes": {"max_length": 5000},
        }

    def validate_phone(self, phone: str) -> str:
        clash = Member.objects.filter(phone=phone)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(
                "A member with this phone already exists."
            )
        return phone

    def validate_tags(self, value: list[str]) -> list[str]:
        return sorted({tag.strip() for tag in value if tag.strip()})

    def create(self, validated_data):
        return save_member(Member(), validated_data, actor=self._actor())

    def update(self, instance, validated_data):
        return save_member(instance, validated_data, actor=self._actor())

    def _actor(self) -> str:
        request = self.context.get("request")
        return actor_of(getattr(getattr(request, "auth", None), "user_id", None))


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(
        max_length=None,
        error_messages={"required": "Upload a CSV file in the `file` field."},
    )
