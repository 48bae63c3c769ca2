"""The operators' console: churches (tenants with their settings) and their numbers.

Both change through the church's services, as the API's edits do: a church's
settings through `update_church` (its number moves in the number map, its
cached tenant record is dropped), sending numbers through `claim_number` and
`release_number`. Each form applies its change as the last step of its
validation (as tenants.admin.NewTenantForm provisions), so that a refusal, a
number already taken, is shown on the form; the admin's transaction holds the
whole save.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.console import console
from api.errors import DomainError
from church.models import SendingNumber
from church.numbers import claim_number, release_number
from church.serializers import ChurchSerializer
from church.services import EDITABLE, update_church
from sms.phones import InvalidPhone, to_e164
from tenants.admin import TenantAdmin
from tenants.models import Tenant

if TYPE_CHECKING:
    # Django's admin and form classes are generic only in the stubs.
    _TenantForm = forms.ModelForm[Tenant]
    _SendingNumberForm = forms.ModelForm[SendingNumber]
    _SendingNumberAdmin = admin.ModelAdmin[SendingNumber]
else:
    _TenantForm = forms.ModelForm
    _SendingNumberForm = forms.ModelForm
    _SendingNumberAdmin = admin.ModelAdmin


def _messages(problems: Any) -> list[str]:
    """A serializer's errors (lists, nested dicts) as plain messages."""
    if isinstance(problems, dict):
        return [m for value in problems.values() for m in _messages(value)]
    if isinstance(problems, list):
        return [m for problem in problems for m in _messages(problem)]
    return [str(problems)]


class ChurchSettingsForm(_TenantForm):
    """A tenant's change form: the church's settings checked by the API's
    serializer and applied by `update_church`."""

    def full_clean(self) -> None:
        super().full_clean()  # Django's checks first, the model's included
        if not self.is_bound or self.errors:
            return
        changes = {f: self.cleaned_data[f] for f in EDITABLE if f in self.changed_data}
        if not changes:
            return
        serializer = ChurchSerializer(self.instance, data=changes, partial=True)
        if not serializer.is_valid():
            for field, problems in serializer.errors.items():
                where = field if field in self.fields else None
                self.add_error(where, _messages(problems))
            return
        try:
            update_church(tenant=self.instance, **serializer.validated_data)
        except DomainError as exc:  # taken, or past the church's plan
            self.add_error("phone_number", exc.message)


@admin.register(Tenant, site=console)
class ChurchTenantAdmin(TenantAdmin):
    """TenantAdmin with the church's settings editable (see ChurchSettingsForm)."""

    form = ChurchSettingsForm
    readonly_fields = [f for f in TenantAdmin.readonly_fields if f not in EDITABLE]


def _claim(tenant: Tenant, number: str, branch_id: uuid.UUID | None) -> None:
    if branch_id is None:  # the church's own number: its settings follow
        update_church(tenant=tenant, phone_number=number)
    else:
        claim_number(tenant=tenant, number=number, branch_id=branch_id)


def _release(row: SendingNumber) -> None:
    if row.branch_id is None and row.tenant.phone_number == row.number:
        update_church(tenant=row.tenant, phone_number=None)
    else:
        release_number(tenant=row.tenant, number=row.number)


class SendingNumberForm(_SendingNumberForm):
    """A number claimed for a church or one of its branches, or moved to another."""

    class Meta:
        model = SendingNumber
        fields = ["number", "tenant", "branch_id"]
        help_texts = {
            "branch_id": (
                "Empty for the church's own number, which then replaces the one "
                "in its settings. A branch's own record keeps the number it had: "
                "change a branch's number in the church's app where you can."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        existing = self.instance
        self.held = (
            None
            if existing._state.adding
            else SendingNumber.objects.get(pk=existing.pk)
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant, number = data.get("tenant"), data.get("number")
        if tenant is not None and number:
            try:
                data["number"] = to_e164(number, tenant.country)
            except InvalidPhone as exc:
                self.add_error("number", str(exc))
        return data

    def full_clean(self) -> None:
        super().full_clean()  # the number is the key: one already held is an error
        if not self.is_bound or self.errors or not self.has_changed():
            return
        row = self.instance
        try:
            with transaction.atomic():
                if self.held is not None:
                    _release(self.held)
                _claim(row.tenant, row.number, row.branch_id)
        except DomainError as exc:  # taken, or past the church's plan
            self.add_error(None, exc.message)


@admin.register(SendingNumber, site=console)
class SendingNumberAdmin(_SendingNumberAdmin):
    form = SendingNumberForm
    list_display = ["number", "tenant", "branch_id", "created_at"]
    search_fields = ["number", "tenant__slug"]
    autocomplete_fields = ["tenant"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: SendingNumber | None = None
    ) -> list[str] | tuple[str, ...]:
        # The number is the key: moving one to another number is a new claim.
        return ["number", "created_at"] if obj else []

    def save_model(
        self, request: HttpRequest, obj: SendingNumber, form: Any, change: bool
    ) -> None:
        obj._state.adding = False  # the form's claim wrote the row

    def delete_model(self, request: HttpRequest, obj: SendingNumber) -> None:
        _release(obj)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[SendingNumber]
    ) -> None:
        for row in queryset.select_related("tenant"):
            _release(row)
