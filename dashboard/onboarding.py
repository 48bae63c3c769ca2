"""The setup checklist a new church sees, derived from facts, never from flags
the client sets: each step is done when what it asks for exists.

`completed` when every step but `mfa` is done. The first time a church is seen
complete is recorded (`Tenant.onboarded_at`), so that the operators' console
can list the churches still short of it a week after registering.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Min
from django.utils import timezone

from accounts.models import Invitation, Membership
from billing.allowance import status_of, subscription_of
from church.models import SendingNumber
from members.models import Member
from messaging.models import Message
from tenants.models import Tenant

OPTIONAL = {"mfa"}


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    help: str


STEPS = [
    Step("profile", "Tell us your church's name, time zone and country",
         "PATCH /api/tenant {name, timezone, country}"),
    Step("sending_number", "Get a number to text from",
         "PATCH /api/tenant {phone_number} (or a branch's: PATCH /api/branches/{id})"),
    Step("members", "Add your members",
         "POST /api/members, or POST /api/members/import (CSV)"),
    Step("first_message", "Send your first message",
         "POST /api/messages/send"),
    Step("team", "Invite your team",
         "POST /api/users/invitations (accepted at /api/auth/invitations/accept)"),
    Step("mfa", "Turn on two-step sign-in for the owner",
         "POST /api/auth/mfa/setup, then POST /api/auth/mfa/enable"),
    Step("plan", "Choose a plan",
         "POST /api/billing/subscribe {plan}"),
]  # fmt: skip


def _facts(tenant: Tenant) -> dict[str, tuple[bool, dt.datetime | None]]:
    """Each step: (done, since when if known). Runs in the church's context."""
    # The church's number and its branches' are all in the registry's map.
    numbers = SendingNumber.objects.filter(tenant=tenant)
    number = numbers.aggregate(at=Min("created_at"))
    first_member = Member.objects.aggregate(at=Min("created_at"))["at"]
    first_sent = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, sent_at__isnull=False
    ).aggregate(at=Min("sent_at"))["at"]
    accepted = Invitation.objects.filter(
        tenant=tenant, accepted_at__isnull=False
    ).aggregate(at=Min("accepted_at"))["at"]
    owners_mfa = Membership.objects.filter(
        tenant=tenant, role=Membership.Role.OWNER, user__mfa_enabled=True
    ).exists()
    subscription = subscription_of(tenant)
    paid = subscription.plan.monthly_amount > 0 and subscription.plan.trial_days is None
    plan = paid or status_of(subscription) == "active"
    return {
        "profile": (tenant.profile_set_at is not None, tenant.profile_set_at),
        "sending_number": (number["at"] is not None, number["at"]),
        "members": (first_member is not None, first_member),
        "first_message": (first_sent is not None, first_sent),
        "team": (accepted is not None, accepted),
        "mfa": (owners_mfa, None),
        "plan": (plan, None),
    }


def checklist(tenant: Tenant) -> dict[str, Any]:
    """GET /api/onboarding: {steps, completed, dismissed}."""
    tenant = Tenant.objects.get(pk=tenant.pk)  # not the cached row: these change
    facts = _facts(tenant)
    steps = []
    for step in STEPS:
        done, at = facts[step.key]
        item = {"key": step.key, "title": step.title, "done": done, "help": step.help}
        if done and at is not None:
            item["done_at"] = at
        steps.append(item)
    completed = all(facts[s.key][0] for s in STEPS if s.key not in OPTIONAL)
    if completed and tenant.onboarded_at is None:
        Tenant.objects.filter(pk=tenant.pk, onboarded_at__isnull=True).update(
            onboarded_at=timezone.now()
        )
    return {
        "steps": steps,
        "completed": completed,
        "dismissed": tenant.onboarding_dismissed_at is not None,
    }


def dismiss(tenant: Tenant) -> None:
    """Hide the checklist for the whole church (it stays derivable)."""
    Tenant.objects.filter(pk=tenant.pk, onboarding_dismissed_at__isnull=True).update(
        onboarding_dismissed_at=timezone.now()
    )
