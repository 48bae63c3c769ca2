"""The operators' console for copies: backups (and a "Back up" action on
churches), databases kept aside by restores and moves, and webhooks kept for
churches that could not take them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.console import ReadOnly, console
from backups.dumping import backup_many
from backups.models import Backup
from church.admin import ChurchTenantAdmin
from tenants.models import PendingWebhook, RetiredDatabase, Tenant

if TYPE_CHECKING:
    _BackupAdmin = admin.ModelAdmin[Backup]
    _RetiredAdmin = admin.ModelAdmin[RetiredDatabase]
    _PendingAdmin = admin.ModelAdmin[PendingWebhook]
else:
    _BackupAdmin = _RetiredAdmin = _PendingAdmin = admin.ModelAdmin


@admin.register(Backup, site=console)
class BackupAdmin(ReadOnly, _BackupAdmin):
    list_display = ["tenant", "started_at", "engine", "size", "sha256", "tool_version"]
    list_filter = ["engine"]
    search_fields = ["tenant__slug", "id"]
    date_hierarchy = "started_at"


@admin.register(RetiredDatabase, site=console)
class RetiredDatabaseAdmin(ReadOnly, _RetiredAdmin):
    list_display = ["name", "server", "tenant", "reason", "drop_after"]
    list_filter = ["server"]


@admin.register(PendingWebhook, site=console)
class PendingWebhookAdmin(ReadOnly, _PendingAdmin):
    list_display = ["key", "tenant", "kind", "received_at", "error"]
    list_filter = ["kind"]
    exclude = ["payload"]  # a message's text and phone: not for browsing


console.unregister(Tenant)


@admin.register(Tenant, site=console)
class OperatedTenantAdmin(ChurchTenantAdmin):
    """The churches, with "Back up" beside suspend, resume, migrate, restore."""

    actions = [*ChurchTenantAdmin.actions, "backup"]

    @admin.action(description="Back up selected tenants now")
    def backup(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant, outcome in backup_many(
            queryset.filter(status__in=["active", "suspended"])
        ):
            if isinstance(outcome, Exception):
                self.message_user(request, f"{tenant.slug}: {outcome}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{tenant.slug}: backup {outcome.pk} ({outcome.size} bytes)",
                )
