"""The operators' console: the people who log in, and their memberships.

Registered on the console (`accounts.console`), with Django's groups and the
database servers: the tenancy layer sits below the console and cannot register
its own admins there (church.admin registers the tenants).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.console import console
from accounts.models import Membership, User
from accounts.revocation import revoke_user_sessions
from tenants.admin import DatabaseServerAdmin
from tenants.models import DatabaseServer

if TYPE_CHECKING:
    # Django's admin classes are generic only in the stubs.
    _MembershipInline = admin.TabularInline[Membership, User]
    _UserAdmin = BaseUserAdmin[User]
else:
    _MembershipInline = admin.TabularInline
    _UserAdmin = BaseUserAdmin


class MembershipInline(_MembershipInline):
    model = Membership
    extra = 0
    fields = ["tenant", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["tenant"]


@admin.register(User, site=console)
class UserAdmin(_UserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "mfa_enabled"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "is_superuser", "mfa_enabled")},
        ),
    )
    add_fieldsets = ((None, {"fields": ("email", "password1", "password2")}),)
    readonly_fields = ["mfa_enabled"]
    inlines = [MembershipInline]

    def save_model(
        self, request: HttpRequest, obj: User, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            revoke_user_sessions(obj.id)  # a disabled account's tokens stop now

    def save_formset(
        self, request: HttpRequest, form: Any, formset: Any, change: bool
    ) -> None:
        """A membership added, changed or removed: the user's tokens there stop.

        Tokens carry the role, as with the API's role changes and removals.
        """
        super().save_formset(request, form, formset, change)
        if formset.model is not Membership:
            return
        changed = [
            m for m, fields in formset.changed_objects if {"tenant", "role"} & {*fields}
        ]
        touched = {
            m.tenant_id
            for m in [*formset.new_objects, *changed, *formset.deleted_objects]
        }
        # A membership moved to another church: its tokens in the old one stop too.
        touched |= {
            inline.initial["tenant"]
            for inline in formset.initial_forms
            if "tenant" in inline.changed_data
        }
        for tenant_id in touched:
            revoke_user_sessions(form.instance.pk, tenant_id=tenant_id)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        revoke_user_sessions(obj.id)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user_id in queryset.values_list("id", flat=True):
            revoke_user_sessions(user_id)
        super().delete_queryset(request, queryset)


console.register(Group, GroupAdmin)
console.register(DatabaseServer, DatabaseServerAdmin)
