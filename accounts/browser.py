"""Signing in to the browsable API: a browser session that carries one church.

A church's staff member signs in with email, password (and TOTP code when MFA
is on) and the church's slug, through the same login as the API's
(`accounts.services.login`, its limits and errors). The session then holds
the claims an access token would: each request is checked exactly as a
token is (`identity_from_claims`: revocation, suspension, the church's
state), with CSRF enforced on unsafe methods. Signing out revokes the login
session, as does anything that revokes the account's tokens.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from rest_framework_simplejwt.tokens import AccessToken

from accounts import revocation
from accounts.errors import InvalidToken
from accounts.services import login, mfa_verify
from accounts.tokens import Identity, identity_from_claims
from api.clients import client_address
from api.errors import DomainError

SESSION_KEY = "api_identity"
_CLAIMS = ("user_id", "tenant_id", "role", "sid", "jti")
HOME = "/api/members"


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=128, widget=forms.PasswordInput)
    church = forms.SlugField(
        max_length=100, required=False, help_text="Needed when you serve several."
    )
    code = forms.CharField(
        max_length=20,
        required=False,
        label="Authenticator code",
        help_text="When two-step sign-in is on: a code or a recovery code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


def sign_in(request: HttpRequest, data: dict[str, Any]) -> None:
    """Check the credentials as the API's login does; raises its DomainErrors."""
    address = client_address(request)
    result = login(
        email=data["email"],
        password=data["password"],
        tenant=data["church"] or None,
        address=address,
    )
    if result.mfa_token is not None:
        result = mfa_verify(
            mfa_token=result.mfa_token, code=data["code"], address=address
        )
    assert result.tokens is not None  # after the second factor, tokens are issued
    # The access token's claims (its jti, its login session) are kept, not it.
    claims = AccessToken(result.tokens["access"]).payload  # type: ignore[arg-type]
    request.session.cycle_key()  # a new session id on every sign-in
    request.session[SESSION_KEY] = {name: str(claims[name]) for name in _CLAIMS}


def identity_from_session(session: SessionBase) -> Identity:
    """The session's identity, checked like a token's (InvalidToken if none)."""
    claims = session.get(SESSION_KEY)
    if not claims:
        raise InvalidToken()
    identity = identity_from_claims(dict(claims))
    return dataclasses.replace(identity, via_session=True)


def sign_out(session: SessionBase) -> None:
    claims = session.get(SESSION_KEY)
    if claims:
        revocation.revoke_sessions([claims["sid"]])
    session.flush()


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or HOME
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else HOME


@sensitive_post_parameters("password", "code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_view(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            sign_in(request, form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return HttpResponseRedirect(_next(request))
    status = 400 if form.errors else 200
    context = {"form": form, "next": _next(request)}
    return render(request, "accounts/browser/login.html", context, status=status)


@csrf_protect
@require_http_methods(["GET", "POST"])
def sign_out_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        sign_out(request.session)
        return HttpResponseRedirect("/api/browser/login")
    # DRF's browsable API links here with GET; a form keeps it a POST.
    return render(request, "accounts/browser/logout.html")


sign_in_view.uses_tenant = False  # type: ignore[attr-defined]
sign_out_view.uses_tenant = False  # type: ignore[attr-defined]
