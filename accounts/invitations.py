"""Invitations: the only way into a church's staff.

An account (an email) is shared by every church it belongs to, so no church
may set or learn anything about an account it does not hold. A church invites
an email; whoever holds that mailbox accepts with the link: a new address gets
its account with the password its holder chooses, an existing account proves
itself (its password, or a token of it) and is not changed by the invitation.
The answers to the church are the same whether or not the email has an account.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import limits
from accounts.email import app_link, send_email
from accounts.errors import InvalidCredentials, InvalidLink, OwnersOnly
from accounts.models import Invitation, Membership, User
from accounts.onetime import digest, new_token
from accounts.tokens import Identity
from api.errors import InvalidInput, NotFound
from tenants.models import Tenant


def _lifetime() -> dt.timedelta:
    return dt.timedelta(days=settings.INVITATION_DAYS)


def invitations_of(tenant: Tenant) -> QuerySet[Invitation]:
    return Invitation.objects.filter(tenant=tenant).order_by("-created_at", "id")


def get_invitation(*, tenant: Tenant, invitation_id: uuid.UUID | str) -> Invitation:
    try:
        return invitations_of(tenant).get(pk=invitation_id)
    except (Invitation.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise NotFound() from exc


def _email(invitation: Invitation, raw: str) -> None:
    send_email(
        to=invitation.email,
        template="invitation",
        context={
            "church": invitation.tenant.name,
            "role": invitation.role,
            "expires_at": invitation.expires_at,
            "link": app_link("accept-invitation", raw),
        },
    )


def invite(
    *, tenant: Tenant, invited_by: uuid.UUID, actor_role: str, email: str, role: str
) -> Invitation:
    """Email a one-time link to join this church with `role`."""
    if role == Membership.Role.OWNER and actor_role != Membership.Role.OWNER:
        raise OwnersOnly()
    raw, hashed = new_token()
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email.strip().lower(),
        role=role,
        token_hash=hashed,
        invited_by_id=invited_by,
        expires_at=timezone.now() + _lifetime(),
    )
    _email(invitation, raw)
    return invitation


def resend(*, invitation: Invitation) -> None:
    """A new link (the old one stops working) and a new expiry, if still open."""
    if invitation.accepted_at or invitation.revoked_at:
        return
    raw, hashed = new_token()
    invitation.token_hash = hashed
    invitation.expires_at = timezone.now() + _lifetime()
    invitation.save(update_fields=["token_hash", "expires_at"])
    _email(invitation, raw)


def revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at=None).update(
        revoked_at=timezone.now()
    )


def _open(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("tenant", "tenant__server")
        .filter(token_hash=digest(str(token)))
        .first()
    )
    if (
        invitation is None
        or invitation.status != "pending"
        or invitation.tenant.status
        not in (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)
    ):
        raise InvalidLink()
    return invitation


def _new_account(invitation: Invitation, password: str, first: str, last: str) -> User:
    candidate = User(email=invitation.email, first_name=first, last_name=last)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise InvalidInput(fields={"password": list(exc.messages)}) from exc
    return User.objects.create_user(
        invitation.email,
        password,
        first_name=first,
        last_name=last,
        email_verified=True,  # the link reached this address
    )


def accept(
    *,
    token: str,
    password: str = "",
    first_name: str = "",
    last_name: str = "",
    identity: Identity | None = None,
    address: str = "",
) -> tuple[User, Membership]:
    """Join the inviting church; returns the account and its membership there.

    The link proves the address. A new address needs a password (its holder's
    own); an existing account proves itself with its password or a token of
    it, and keeps its name and password.
    """
    invitation = _open(token)
    who = (f"account:{invitation.email}", f"address:{address}")
    limits.refuse_if_over("login", *who)
    with transaction.atomic():
        account = (
            User.objects.select_for_update().filter(email=invitation.email).first()
        )
        if account is None:
            if not password:
                raise InvalidInput(fields={"password": ["Choose a password."]})
            account = _new_account(invitation, password, first_name, last_name)
        elif not account.is_active or not (
            (identity is not None and identity.user_id == account.pk)
            or (password and account.check_password(password))
        ):
            limits.record_failure("login", *who)
            raise InvalidCredentials()
        taken = Invitation.objects.filter(
            pk=invitation.pk, accepted_at=None, revoked_at=None
        ).update(accepted_at=timezone.now(), accepted_by=account)
        if not taken:
            raise InvalidLink()
        User.objects.filter(pk=account.pk).update(email_verified=True)
        try:
            with transaction.atomic():
                membership, _ = Membership.objects.get_or_create(
                    user=account,
                    tenant=invitation.tenant,
                    defaults={"role": invitation.role},
                )
        except IntegrityError:  # joined by another invitation at the same moment
            membership = Membership.objects.get(user=account, tenant=invitation.tenant)
    account.refresh_from_db()
    return account, Membership.objects.select_related("tenant").get(pk=membership.pk)
