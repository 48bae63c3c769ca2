"""Identity services: registration, login (with MFA), refresh, logout, passwords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import limits, revocation
from accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    RegistrationFailed,
    TenantRequired,
    TenantSuspended,
    TokenRevoked,
)
from accounts.mfa import accept_second_factor
from accounts.models import Membership, Revocation, User
from accounts.recovery import send_verification
from accounts.tokens import (
    Identity,
    expiry,
    issue_mfa_token,
    issue_tokens,
    mfa_claims,
    proves_password,
    refresh_claims,
)
from tenants.lookup import get_tenant
from tenants.models import Tenant
from tenants.provisioning import ProvisioningError, provision_tenant

LOGIN_STATUSES = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


@dataclass
class LoginResult:
    """Tokens for a tenant, or an MFA challenge to answer first."""

    user: User
    tenant: Tenant | None = None
    role: str = ""
    tokens: dict[str, str] | None = None
    mfa_token: str | None = None


# --- registration ---------------------------------------------------------------


def register(
    *,
    organization_name: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    timezone_name: str = "America/New_York",
    country: str = "US",
    profile_given: bool = False,
) -> LoginResult:
    """Create a church, its database and its owner; all of it or none of it.

    `profile_given`: the time zone and country were chosen, not defaulted (the
    onboarding's `profile` step is then done).

    An email that has an account registers another church only with that
    account's password (then nothing of the account changes); otherwise the
    answer is `email_taken`, the one place an answer shows that an email exists.
    """
    email = email.strip().lower()
    existing = User.objects.filter(email=email).first()
    if existing is not None and not (
        existing.is_active and existing.check_password(password)
    ):
        raise EmailTaken()
    hashed = make_password(password)  # before provisioning: nothing to undo if slow
    created: dict[str, User] = {}

    def create_owner(tenant: Tenant) -> None:
        user = existing or User.objects.create(
            email=email,
            password=hashed,
            first_name=first_name,
            last_name=last_name,
            registered=True,
        )
        Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.OWNER)
        if profile_given:
            Tenant.objects.filter(pk=tenant.pk).update(profile_set_at=timezone.now())
        created["user"] = user

    try:
        tenant = provision_tenant(
            name=organization_name,
            timezone_name=timezone_name,
            country=country,
            before_activate=create_owner,
        )
    except ProvisioningError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise EmailTaken() from exc  # a concurrent registration won the email
        raise RegistrationFailed(retry_after=5) from exc
    user = created["user"]
    if existing is None:
        send_verification(user)
    membership = Membership(user=user, tenant=tenant, role=Membership.Role.OWNER)
    return _session(user, membership)


# --- login ----------------------------------------------------------------------


def _memberships(user: User) -> QuerySet[Membership]:
    return Membership.objects.select_related("tenant", "tenant__server").filter(
        user=user, tenant__status__in=LOGIN_STATUSES
    )


def tenant_summary(tenant: Tenant) -> dict[str, str]:
    return {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name}


def login(
    *, email: str, password: str, tenant: str | None, address: str
) -> LoginResult:
    """Check the password, then pick the tenant; uniform errors before that.

    Only failures count against the account and the address: successful
    logins behind one proxy never lock anyone out.
    """
    email = (email or "").strip().lower()
    who = (f"account:{email}", f"address:{address}")
    limits.refuse_if_over("login", *who)
    user = User.objects.filter(email=email).first()
    if user is None:
        User().set_password(password)  # the same work as a real check: no timing hint
    memberships = list(_memberships(user)) if user is not None else []
    if (
        user is None
        or not user.check_password(password)
        or not user.is_active
        or not memberships
    ):
        limits.record_failure("login", *who)
        raise InvalidCredentials()
    membership = _pick(memberships, tenant)
    if membership.tenant.status == Tenant.Status.SUSPENDED:
        raise TenantSuspended()
    limits.reset("login", who[0])
    return answer_for(user, membership)


def answer_for(user: User, membership: Membership) -> LoginResult:
    """Tokens for this church, or the MFA step first when the account has MFA on."""
    if user.mfa_enabled:
        token = issue_mfa_token(user=user, tenant_id=membership.tenant_id)
        return LoginResult(user=user, mfa_token=token)
    return _session(user, membership)


def _pick(memberships: list[Membership], named: str | None) -> Membership:
    if named:
        for membership in memberships:
            if membership.tenant.answers_to(named):
                return membership
    elif len(memberships) == 1:
        return memberships[0]
    raise TenantRequired(
        extra={"tenants": [tenant_summary(m.tenant) for m in memberships]}
    )


def _session(user: User, membership: Membership) -> LoginResult:
    tokens = issue_tokens(
        user_id=user.id, tenant=membership.tenant, role=membership.role
    )
    return LoginResult(
        user=user, tenant=membership.tenant, role=membership.role, tokens=tokens
    )


# --- MFA ------------------------------------------------------------------------


def mfa_verify(*, mfa_token: str, code: str, address: str) -> LoginResult:
    """The second step of a login: a TOTP code or a recovery code.

    The MFA token is refused once the password it proved has changed.
    """
    claims = mfa_claims(mfa_token)
    user_id, tenant_id = claims["user_id"], claims["tenant_id"]
    who = (f"account:{user_id}", f"address:{address}")
    limits.refuse_if_over("mfa", *who)
    user = User.objects.filter(pk=user_id, is_active=True, mfa_enabled=True).first()
    membership = (
        _memberships(user).filter(tenant_id=tenant_id).first() if user else None
    )
    if user is None or membership is None or not proves_password(claims, user):
        raise InvalidToken()
    if not accept_second_factor(user, code):
        limits.record_failure("mfa", *who)
        raise InvalidCredentials("The code is not valid.")
    if not _spend(claims):
        raise TokenRevoked()  # this MFA token was already used
    return _session(user, membership)


# --- tokens ---------------------------------------------------------------------


def _spend(claims: dict[str, Any]) -> bool:
    """Mark a single-use token used; False if it already was."""
    key, expires = f"jti:{claims['jti']}", expiry(claims)
    try:
        with transaction.atomic():
            Revocation.objects.create(key=key, expires_at=expires)
    except IntegrityError:
        return False
    revocation.mirror(key, expires)
    return True


def refresh(*, raw: str) -> dict[str, str]:
    """Rotate: the refresh token is spent, a new pair for the same session is issued."""
    claims = refresh_claims(raw)
    try:
        user_id, sid = uuid.UUID(claims["user_id"]), claims["sid"]
    except ValueError as exc:
        raise InvalidToken() from exc
    if revocation.is_revoked(claims, access=False):
        # Spent already (or its session ended): a replayed refresh token ends
        # the session it belongs to, whoever holds the newer one.
        revocation.revoke_sessions([sid])
        raise TokenRevoked()
    tenant = get_tenant(claims.get("tenant_id"))
    if tenant is None or tenant.status not in LOGIN_STATUSES:
        raise InvalidToken()
    if tenant.status == Tenant.Status.SUSPENDED:
        raise TenantSuspended()
    membership = Membership.objects.filter(
        user_id=user_id, tenant=tenant, user__is_active=True
    ).first()
    if membership is None:
        raise TokenRevoked()
    if not _spend(claims):
        # A refresh token used twice was stolen or replayed: end the session.
        revocation.revoke_sessions([sid])
        raise TokenRevoked()
    return issue_tokens(user_id=user_id, tenant=tenant, role=membership.role, sid=sid)


def logout(*, identity: Identity, raw_refresh: str | None) -> None:
    """End the caller's session: its access and refresh tokens are refused."""
    sessions = [identity.claims["sid"]]
    if raw_refresh:
        try:
            claims = refresh_claims(raw_refresh)
        except InvalidToken:
            claims = {}  # the caller's own session still ends
        if claims.get("user_id") == str(identity.user_id):
            sessions.append(claims["sid"])
    revocation.revoke_sessions(sessions)


def change_password(
    *, identity: Identity, old_password: str, new_password: str
) -> None:
    user = User.objects.get(pk=identity.user_id)  # checked active by the view
    user.set_password(new_password)
    user.save(update_fields=["password"])
    revocation.revoke_user_sessions(user.id, except_sid=identity.claims["sid"])
