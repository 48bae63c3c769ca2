"""JWTs bound to one tenant: issuing, verifying, and DRF's authentication class.

The tenant of a request comes from the verified token's `tenant_id` and from
nowhere else: `identity_from_token` is one of the few doors from outside input
into a tenant (the other is the sending-number map, `church.numbers`, for the
provider's webhooks).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import revocation
from accounts.errors import InvalidToken, TenantMismatch, TenantSuspended, TokenRevoked
from accounts.models import LoginSession, User
from tenants.errors import TenantUnavailable
from tenants.lookup import get_tenant
from tenants.models import Tenant

# What a church being restored or moved tells clients to wait (seconds).
MAINTENANCE_RETRY_SECONDS = 5


@dataclass(frozen=True)
class Identity:
    """Who is calling, for which tenant, as the verified token says."""

    user_id: uuid.UUID
    tenant: Tenant
    role: str
    claims: dict[str, Any]
    via_session: bool = False  # a browser session: unsafe methods need CSRF


class TokenUser:
    """`request.user` for token requests: what the token says, no registry query."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, identity: Identity) -> None:
        self.id = self.pk = identity.user_id
        self.role = identity.role
        self.tenant = identity.tenant

    def __str__(self) -> str:
        return str(self.id)


def issue_tokens(
    *, user_id: uuid.UUID, tenant: Tenant, role: str, sid: uuid.UUID | None = None
) -> dict[str, str]:
    """A refresh token and its access token, bound to `tenant` and one login session."""
    if sid is None:
        sid = LoginSession.objects.create(user_id=user_id, tenant=tenant).id
    refresh = RefreshToken()
    refresh["user_id"] = str(user_id)
    refresh["tenant_id"] = str(tenant.id)
    refresh["role"] = role
    refresh["sid"] = str(sid)
    access = refresh.access_token
    return {"access": str(access), "refresh": str(refresh)}


class MfaToken(Token):
    """Proof that the password checked out; good for one MFA verification."""

    token_type = "mfa"
    lifetime = dt.timedelta(seconds=settings.MFA_TOKEN_SECONDS)


def _password_stamp(user: User) -> str:
    """Changes whenever the password does: tokens carrying it die with it."""
    return hashlib.sha256(user.password.encode()).hexdigest()[:16]


def issue_mfa_token(*, user: User, tenant_id: uuid.UUID) -> str:
    token = MfaToken()
    token["user_id"] = str(user.id)
    token["tenant_id"] = str(tenant_id)
    token["pwd"] = _password_stamp(user)
    return str(token)


def proves_password(claims: dict[str, Any], user: User) -> bool:
    """Whether an MFA token was issued for the password the account has now."""
    return bool(claims.get("pwd") == _password_stamp(user))


def _claims(token_class: type[Token], raw: str, *required: str) -> dict[str, Any]:
    """The verified claims of `raw` (signature, expiry, type); InvalidToken if not."""
    try:
        # simplejwt annotates `token` as Token, but it takes the encoded string.
        claims = dict(token_class(raw).payload)  # type: ignore[arg-type]
        for name in required:
            claims[name] = str(claims[name])
        return claims
    except (TokenError, KeyError) as exc:
        raise InvalidToken() from exc


def mfa_claims(raw: str) -> dict[str, Any]:
    return _claims(MfaToken, raw, "user_id", "tenant_id", "jti")


def refresh_claims(raw: str) -> dict[str, Any]:
    return _claims(RefreshToken, raw, "user_id", "tenant_id", "sid", "jti")


def expiry(claims: Mapping[str, Any]) -> dt.datetime:
    return dt.datetime.fromtimestamp(claims["exp"], tz=dt.UTC)


# Checking a token's signature is most of a warm request's token work, and a
# client sends the same access token until it expires: each process remembers
# the claims of the tokens it verified, by their whole text (signature
# included). Only a valid token is remembered (lru_cache keeps no exception);
# expiry, revocation and the tenant's state are checked on every request.
VERIFIED_TOKENS = 4096


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified_claims(raw: str) -> Mapping[str, Any]:
    # simplejwt annotates `token` as Token, but it takes the encoded string.
    return MappingProxyType(dict(AccessToken(raw).payload))  # type: ignore[arg-type]


def _forget_verified(setting: str, **_: Any) -> None:
    if setting in ("SIMPLE_JWT", "SECRET_KEY"):  # another key: verify anew
        _verified_claims.cache_clear()


setting_changed.connect(_forget_verified)


def _expired(claims: Mapping[str, Any]) -> bool:
    """simplejwt's own expiry rule (`Token.check_exp`), for a remembered token."""
    return expiry(claims) <= aware_utcnow() - token_backend.get_leeway()


def identity_from_token(raw: str) -> Identity:
    """Verify an access token and resolve its tenant; raises a DomainError."""
    try:
        claims = _verified_claims(raw)
    except TokenError as exc:
        raise InvalidToken() from exc
    if _expired(claims):
        raise InvalidToken()
    return identity_from_claims(dict(claims))


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """The checks every request passes, whether its claims came in a token or
    in a browser session (`accounts.browser`): revocation, the tenant's state."""
    try:
        user_id = uuid.UUID(str(claims["user_id"]))
        tenant_id = uuid.UUID(str(claims["tenant_id"]))
        role = str(claims["role"])
        str(claims["jti"]), str(claims["sid"])
    except (KeyError, ValueError) as exc:
        raise InvalidToken() from exc
    if revocation.is_revoked(claims):
        raise TokenRevoked()
    tenant = get_tenant(tenant_id)
    if tenant is None or tenant.status in (
        Tenant.Status.FAILED,
        Tenant.Status.DELETING,
        Tenant.Status.DELETED,
    ):
        raise InvalidToken()
    if tenant.status == Tenant.Status.SUSPENDED:
        raise TenantSuspended()
    if tenant.status == Tenant.Status.MAINTENANCE:
        # A restore or move is swapping its database: seconds, then back.
        raise TenantUnavailable(retry_after=MAINTENANCE_RETRY_SECONDS)
    if tenant.status != Tenant.Status.ACTIVE:
        raise InvalidToken()
    return Identity(user_id=user_id, tenant=tenant, role=role, claims=claims)


def bearer_token(request: HttpRequest) -> str | None:
    # META, not request.headers: that would copy every header per request.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or ""


def check_named_tenant(named: object, tenant: Tenant) -> None:
    """A tenant named in a header or parameter must be the token's own."""
    if named not in (None, "") and not tenant.answers_to(named):
        raise TenantMismatch()


class TenantJWTAuthentication(BaseAuthentication):
    """Reads what TokenMiddleware verified; never picks a tenant by itself."""

    def authenticate(self, request: Request) -> tuple[TokenUser, Identity] | None:
        django_request = request._request
        error = getattr(django_request, "auth_error", None)
        if error is not None:
            raise error
        identity: Identity | None = getattr(django_request, "identity", None)
        if identity is None:
            return None
        if identity.via_session:
            # A cookie rides along on any site's form: prove the page is ours.
            SessionAuthentication().enforce_csrf(request)
        if request.method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            data = request.data
            if isinstance(data, dict):
                check_named_tenant(data.get("tenant"), identity.tenant)
        return TokenUser(identity), identity

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
