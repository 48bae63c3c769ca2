"""The operators' console for Planning Center: who is connected (never the
secret) and every sync run with its counts and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from accounts.console import ReadOnly, console
from integrations.models import PlanningCenterConnection, SyncRun

if TYPE_CHECKING:
    _ConnectionAdmin = admin.ModelAdmin[PlanningCenterConnection]
    _RunAdmin = admin.ModelAdmin[SyncRun]
else:
    _ConnectionAdmin = _RunAdmin = admin.ModelAdmin


@admin.register(PlanningCenterConnection, site=console)
class ConnectionAdmin(ReadOnly, _ConnectionAdmin):
    list_display = ["tenant", "app_id", "connected_at", "next_sync_at"]
    search_fields = ["tenant__slug"]
    fields = [
        "tenant",
        "app_id",
        "lists",
        "connected_by",
        "connected_at",
        "next_sync_at",
    ]


@admin.register(SyncRun, site=console)
class SyncRunAdmin(ReadOnly, _RunAdmin):
    list_display = [
        "tenant",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "seen",
        "created",
        "updated",
        "requests",
    ]
    list_filter = ["status", "trigger"]
    search_fields = ["tenant__slug"]
    date_hierarchy = "started_at"
    exclude = ["holder", "cursor"]
