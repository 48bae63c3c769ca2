"""The operators' console: the people who log in, and their memberships."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Membership, User
from accounts.revocation import revoke_user_sessions

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
    autocomplete_fields = ["tenant"]


@admin.register(User)
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

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        revoke_user_sessions(obj.id)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user_id in queryset.values_list("id", flat=True):
            revoke_user_sessions(user_id)
        super().delete_queryset(request, queryset)
