"""The operators' console pages of the tenancy layer: tenants and database servers.

The console (`accounts.console`) sits above this layer, so these admins are
registered on it from above: the servers by accounts.admin, the tenants by
church.admin, whose subclass makes the church's settings editable through the
church's own service (`church.services.update_church`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from tenants.lifecycle import restore_deleted, start_deletion
from tenants.lookup import invalidate_tenant
from tenants.migrating import migrate_tenant
from tenants.models import DatabaseServer, Tenant, split_password
from tenants.provisioning import LIVE_STATUSES, ProvisioningError, provision_tenant
from tenants.secrets import encrypt
from tenants.services import InvalidTransition, resume_tenant, suspend_tenant

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    # Django's admin and form classes are generic only in the stubs.
    _TenantForm = forms.ModelForm[Tenant]
    _DatabaseServerForm = forms.ModelForm[DatabaseServer]
    _TenantAdmin = admin.ModelAdmin[Tenant]
    _DatabaseServerAdmin = admin.ModelAdmin[DatabaseServer]

    class _LiveCount(TypedDict):
        live: int  # annotated by DatabaseServerAdmin.get_queryset

else:
    _TenantForm = forms.ModelForm
    _DatabaseServerForm = forms.ModelForm
    _TenantAdmin = admin.ModelAdmin
    _DatabaseServerAdmin = admin.ModelAdmin


class NewTenantForm(_TenantForm):
    slug = forms.SlugField(
        required=False, help_text="Leave empty to derive it from the name."
    )

    class Meta:
        model = Tenant
        fields = ["name", "slug", "timezone", "country", "server"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["server"].required = False
        self.fields["server"].help_text = "Leave empty for the server with most room."

    def validate_unique(self) -> None:
        pass  # provisioning picks and checks the slug itself

    def _post_clean(self) -> None:
        pass  # the model instance is built by provision_tenant(), not by the form

    def clean(self) -> dict[str, Any]:
        # Provision here, so that a failure is shown on the form, not as a 500.
        # ModelForm.clean() returns cleaned_data; the stubs allow None for overrides.
        data = cast(dict[str, Any], super().clean())
        if self.errors:
            return data
        try:
            self.provisioned = provision_tenant(
                name=data["name"],
                slug=data.get("slug") or None,
                timezone_name=data["timezone"],
                country=data["country"],
                server=data.get("server"),
            )
        except ProvisioningError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


class OnboardingFilter(admin.SimpleListFilter):
    """Churches a week or more old that have not finished onboarding."""

    title = "onboarding"
    parameter_name = "onboarding"
    AFTER = dt.timedelta(days=7)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("late", "not finished after 7 days"), ("done", "finished")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> QuerySet[Tenant]:
        if self.value() == "late":
            return queryset.filter(
                status=Tenant.Status.ACTIVE,
                onboarded_at__isnull=True,
                created_at__lte=timezone.now() - self.AFTER,
            )
        if self.value() == "done":
            return queryset.filter(onboarded_at__isnull=False)
        return queryset


class TenantAdmin(_TenantAdmin):
    """Provisioning, the registry's columns, and suspend/resume/migrate.

    The church's settings are shown read-only here: they change only through
    `church.services.update_church` (the number map follows the number), which
    this layer cannot import; church.admin's subclass makes them editable.
    """

    church_settings = (
        "name",
        "timezone",
        "country",
        "phone_number",
        "help_text",
        "quiet_hours",
    )
    list_display = [
        "slug",
        "name",
        "status",
        "server",
        "created_at",
        "migrated_at",
        "onboarded_at",
        "short_error",
    ]
    list_filter = ["status", OnboardingFilter, "server"]
    search_fields = ["slug", "name", "id"]
    fieldsets = [
        (None, {"fields": ["id", "slug", "status", "purge_after"]}),
        ("Church settings", {"fields": list(church_settings)}),
        (
            "Database",
            {
                "fields": [
                    "server",
                    "database_name",
                    "database_user",
                    "migration_fingerprint",
                    "migrated_at",
                    "migration_seconds",
                    "migration_error",
                ]
            },
        ),
        (
            "Record",
            {
                "fields": [
                    "awaiting_owner",
                    "next_send_at",
                    "profile_set_at",
                    "onboarded_at",
                    "onboarding_dismissed_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    # All but the slug; next_send_at has its own writers (TenantQuerySet).
    readonly_fields = [
        "id",
        "status",
        "purge_after",
        *church_settings,
        "server",
        "database_name",
        "database_user",
        "migration_fingerprint",
        "migrated_at",
        "migration_seconds",
        "migration_error",
        "awaiting_owner",
        "next_send_at",
        "profile_set_at",
        "onboarded_at",
        "onboarding_dismissed_at",
        "created_at",
        "updated_at",
    ]
    exclude = ["database_password"]
    actions = ["suspend", "resume", "migrate", "restore"]

    # `change` is accepted through **kwargs: Django always passes it by keyword.
    def get_form(  # type: ignore[override]
        self, request: HttpRequest, obj: Tenant | None = None, **kwargs: Any
    ) -> type[forms.ModelForm[Tenant]]:
        if obj is None:
            kwargs["form"] = NewTenantForm
            kwargs["fields"] = NewTenantForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(
        self, request: HttpRequest, obj: Tenant | None = None
    ) -> Any:  # the stubs' _FieldsetSpec is private
        if obj is None:
            return [(None, {"fields": NewTenantForm.Meta.fields})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(
        self, request: HttpRequest, obj: Tenant | None = None
    ) -> list[str] | tuple[str, ...]:
        return self.readonly_fields if obj else []

    def get_exclude(
        self, request: HttpRequest, obj: Tenant | None = None
    ) -> list[str] | tuple[str, ...] | None:
        return self.exclude if obj else None

    def save_model(
        self, request: HttpRequest, obj: Tenant, form: Any, change: bool
    ) -> None:
        if change:
            # Only the columns this admin owns: a full save would write back
            # status or next_send_at as they were when the form was opened.
            owned = [f for f in form.changed_data if f not in self.church_settings]
            if owned:
                obj.save(update_fields=[*owned, "updated_at"])
            invalidate_tenant(obj.pk)
            return
        tenant = form.provisioned
        # The admin goes on with `obj`: make it the row the service created.
        obj.__dict__.update({k: v for k, v in tenant.__dict__.items() if k != "_state"})
        obj._state.adding = False
        obj._state.db = tenant._state.db

    @admin.display(description="migration error")
    def short_error(self, obj: Tenant) -> str:
        return obj.migration_error[:80]

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Tenant],
        operation: Callable[..., object],
        verb: str,
    ) -> None:
        done = 0
        for tenant in queryset:
            try:
                operation(tenant=tenant)
                done += 1
            except InvalidTransition as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"{done} tenant(s) {verb}.")

    @admin.action(description="Suspend selected tenants")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._each(request, queryset, suspend_tenant, "suspended")

    @admin.action(description="Resume selected tenants")
    def resume(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._each(request, queryset, resume_tenant, "resumed")

    # Deleting never drops a database here: the church goes to `deleting`,
    # restorable until its purge_after, as when its owner deletes it.
    def delete_model(self, request: HttpRequest, obj: Tenant) -> None:
        self.delete_queryset(request, Tenant.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        by = f"operator {request.user}"
        self._each(
            request,
            queryset,
            lambda tenant: start_deletion(tenant, by=by),
            "set deleting",
        )

    @admin.action(description="Restore selected tenants (within their deletion grace)")
    def restore(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._each(
            request, queryset, lambda tenant: restore_deleted(tenant), "restored"
        )

    @admin.action(description="Migrate selected tenants")
    def migrate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset.filter(
            status__in=[Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED]
        ):
            outcome = migrate_tenant(str(tenant.pk))
            level = messages.SUCCESS if outcome.ok else messages.ERROR
            self.message_user(
                request, f"{tenant.slug}: {outcome.error or 'migrated'}", level
            )


class DatabaseServerForm(_DatabaseServerForm):
    """The URL is kept without its password; the password is write-only."""

    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=(
            "Stored encrypted and never shown: leave empty to keep the current "
            "one. A password written into the URL is moved here."
        ),
    )

    class Meta:
        model = DatabaseServer
        fields = ["name", "url", "capacity", "active"]

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # Taken out of the URL before anything is validated or shown back.
        self.url_password = ""
        if data is not None and data.get("url"):
            data = data.copy()
            data["url"], self.url_password = split_password(data["url"])
        super().__init__(data, *args, **kwargs)

    @property
    def password_given(self) -> str:
        return cast(str, self.cleaned_data.get("new_password")) or self.url_password


class DatabaseServerAdmin(_DatabaseServerAdmin):
    form = DatabaseServerForm
    list_display = [
        "name",
        "url",
        "has_password",
        "capacity",
        "tenant_count",
        "active",
        "template_fingerprint",
    ]
    list_filter = ["active"]
    readonly_fields = ["template_fingerprint", "created_at"]
    exclude = ["password"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DatabaseServer]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                live=Count("tenants", filter=Q(tenants__status__in=LIVE_STATUSES))
            )
        )

    def save_model(
        self, request: HttpRequest, obj: DatabaseServer, form: Any, change: bool
    ) -> None:
        if form.password_given:
            obj.password = encrypt(form.password_given)
        super().save_model(request, obj, form, change)

    @admin.display(description="password", boolean=True)
    def has_password(self, obj: DatabaseServer) -> bool:
        return bool(obj.password)

    @admin.display(description="tenants", ordering="live")
    def tenant_count(self, obj: WithAnnotations[DatabaseServer, _LiveCount]) -> int:
        return obj.live
