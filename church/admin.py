"""The operators' console: which church each sending number belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from church.models import SendingNumber

if TYPE_CHECKING:
    _SendingNumberAdmin = admin.ModelAdmin[SendingNumber]
else:
    _SendingNumberAdmin = admin.ModelAdmin


@admin.register(SendingNumber)
class SendingNumberAdmin(_SendingNumberAdmin):
    list_display = ["number", "tenant", "branch_id", "created_at"]
    search_fields = ["number", "tenant__slug"]
