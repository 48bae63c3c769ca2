"""The operators' console for billing: plans, subscriptions with their history
and usage, invoices (paid or void by hand with the local backend), and credits.

Usage against quota is read from the registry's daily rollup, so a page of
churches never opens a church's database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from accounts.console import ReadOnly, console
from billing.allowance import credited, status_of, subscription_of
from billing.models import (
    Invoice,
    MeterReport,
    Plan,
    SegmentCredit,
    StateChange,
    StripeEvent,
    Subscription,
    UsageRollup,
)
from billing.subscriptions import (
    cancel_at_period_end,
    change_subscription,
    locked_subscription,
    settle_invoice,
)

if TYPE_CHECKING:
    _PlanAdmin = admin.ModelAdmin[Plan]
    _SubscriptionAdmin = admin.ModelAdmin[Subscription]
    _InvoiceAdmin = admin.ModelAdmin[Invoice]
    _CreditAdmin = admin.ModelAdmin[SegmentCredit]
    _ChangeAdmin = admin.ModelAdmin[StateChange]
    _ReportAdmin = admin.ModelAdmin[MeterReport]
    _EventAdmin = admin.ModelAdmin[StripeEvent]
    _UsageAdmin = admin.ModelAdmin[UsageRollup]
else:
    _PlanAdmin = _SubscriptionAdmin = _InvoiceAdmin = admin.ModelAdmin
    _CreditAdmin = _ChangeAdmin = _ReportAdmin = _EventAdmin = admin.ModelAdmin
    _UsageAdmin = admin.ModelAdmin


@admin.register(UsageRollup, site=console)
class UsageAdmin(_UsageAdmin):
    """Messages and segments per day: per church in the list, and for the whole
    fleet (the days of the list's filter, summed) above it."""

    list_display = ["date", "tenant", "messages", "segments"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__slug", "tenant__name"]
    date_hierarchy = "date"
    change_list_template = "admin/billing/usagerollup/change_list.html"
    FLEET_DAYS = 31

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the usage task, from each church's messages

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        response: Any = super().changelist_view(request, extra_context)
        listed = getattr(response, "context_data", {}).get("cl")
        if listed is not None:
            fleet = (
                listed.queryset.order_by()
                .values("date")
                .annotate(
                    churches=Count("tenant", distinct=True),
                    messages=Sum("messages"),
                    segments=Sum("segments"),
                )
                .order_by("-date")[: self.FLEET_DAYS]
            )
            response.context_data["fleet"] = list(fleet)
        return response


@admin.register(Plan, site=console)
class PlanAdmin(_PlanAdmin):
    list_display = ["code", "name", "monthly_amount", "currency", "included_segments",
                    "overage_unit_amount", "trial_days", "active"]  # fmt: skip
    list_filter = ["active"]


def _by(request: HttpRequest) -> str:
    return f"operator {getattr(request.user, 'email', request.user)}"


@admin.register(Subscription, site=console)
class SubscriptionAdmin(_SubscriptionAdmin):
    list_display = ["tenant", "plan", "state", "period_start", "period_end", "usage"]
    list_filter = ["status", "plan"]
    search_fields = ["tenant__name", "tenant__slug"]
    list_select_related = ["tenant", "plan"]
    readonly_fields = ["tenant", "state", "usage", "history", "stripe_customer_id",
                       "stripe_subscription_id"]  # fmt: skip
    fields = ["tenant", "plan", "state", "period_start", "period_end", "anchor",
              "trial_ends_at", "cancel_at_period_end", "usage", "history"]  # fmt: skip
    actions = ["cancel_at_end"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a church gets its subscription when it registers

    @admin.display(description="status")
    def state(self, sub: Subscription) -> str:
        return status_of(sub)

    @admin.display(description="segments used / included (daily rollup)")
    def usage(self, sub: Subscription) -> str:
        used = UsageRollup.objects.filter(
            tenant_id=sub.tenant_id,
            date__gte=sub.period_start.date(),
            date__lt=sub.period_end.date(),
        ).aggregate(n=Sum("segments"))["n"]
        return f"{used or 0} / {sub.plan.included_segments + credited(sub)}"

    @admin.display(description="state history")
    def history(self, sub: Subscription) -> str:
        changes = StateChange.objects.filter(tenant_id=sub.tenant_id)[:50]
        cells = "<td>{}</td><td>{} → {}</td><td>{} → {}</td><td>{}</td><td>{}</td>"
        row = f"<tr>{cells}</tr>"
        rows = format_html_join(
            "", row,
            ((c.at, c.from_status or "-", c.to_status, c.from_plan or "-", c.to_plan,
              c.by, c.note) for c in changes),
        )  # fmt: skip
        return format_html("<table>{}</table>", rows)

    def save_model(
        self, request: HttpRequest, obj: Subscription, form: Any, change: bool
    ) -> None:
        # The edited fields go through the one writer of changes, on a locked row.
        with transaction.atomic():
            edited = {name: form.cleaned_data[name] for name in form.changed_data}
            note = "edited in the console" if {"status", "plan"} & set(edited) else ""
            change_subscription(
                locked_subscription(obj.tenant), by=_by(request), note=note, **edited
            )

    @admin.action(description="Cancel at the end of the period")
    def cancel_at_end(
        self, request: HttpRequest, queryset: QuerySet[Subscription]
    ) -> None:
        for sub in queryset.select_related("tenant"):
            cancel_at_period_end(sub.tenant, by=_by(request))
        self.message_user(request, f"{queryset.count()} will cancel at period end.")


@admin.register(Invoice, site=console)
class InvoiceAdmin(_InvoiceAdmin):
    list_display = ["number", "tenant", "period_start", "total", "currency", "status",
                    "due_at"]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["number", "tenant__name"]
    list_select_related = ["tenant"]
    actions = ["mark_paid", "mark_void"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Invoice._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invoices come from closed periods (or Stripe)

    def _settle(
        self, request: HttpRequest, queryset: QuerySet[Invoice], status: str
    ) -> None:
        if settings.BILLING_BACKEND != "local":
            self.message_user(
                request, "Stripe settles its own invoices.", messages.ERROR
            )
            return
        open_ = queryset.filter(status=Invoice.Status.OPEN).select_related("tenant")
        for invoice in open_:
            settle_invoice(invoice, status, by=_by(request))
        self.message_user(request, f"{len(open_)} invoice(s) marked {status}.")

    @admin.action(description="Mark paid")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._settle(request, queryset, Invoice.Status.PAID)

    @admin.action(description="Mark void")
    def mark_void(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._settle(request, queryset, Invoice.Status.VOID)


@admin.register(SegmentCredit, site=console)
class SegmentCreditAdmin(_CreditAdmin):
    """Granting a credit: the church, the segments and why; who and the period
    are filled in."""

    list_display = ["tenant", "segments", "period_start", "granted_by", "reason",
                    "created_at"]  # fmt: skip
    fields = ["tenant", "segments", "reason"]
    list_select_related = ["tenant", "granted_by"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a credit granted stays as granted

    def save_model(
        self, request: HttpRequest, obj: SegmentCredit, form: Any, change: bool
    ) -> None:
        obj.period_start = subscription_of(obj.tenant).period_start
        obj.granted_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


@admin.register(StateChange, site=console)
class StateChangeAdmin(_ChangeAdmin):
    list_display = [
        "at",
        "tenant",
        "from_status",
        "to_status",
        "from_plan",
        "to_plan",
        "by",
        "note",
    ]
    list_filter = ["to_status"]
    search_fields = ["tenant__name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StuckFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("stuck", "failing (3+ attempts)"), ("pending", "not sent yet")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "stuck":
            return queryset.filter(sent_at__isnull=True, attempts__gte=3)
        if self.value() == "pending":
            return queryset.filter(sent_at__isnull=True)
        return queryset


@admin.register(MeterReport, site=console)
class MeterReportAdmin(ReadOnly, _ReportAdmin):
    list_display = ["tenant", "day", "value", "sent_at", "attempts", "last_error",
                    "next_attempt_at"]  # fmt: skip
    list_filter = [StuckFilter]
    search_fields = ["tenant__name", "identifier"]


@admin.register(StripeEvent, site=console)
class StripeEventAdmin(ReadOnly, _EventAdmin):
    list_display = ["event_id", "type", "received_at", "processed_at"]
    search_fields = ["event_id", "type"]
