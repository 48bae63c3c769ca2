"""The operators' console: Django's admin behind a password, a TOTP code and a limit.

- An operator with MFA on logs in with email, password and a code from the
  authenticator app (or one of the recovery codes): the password alone is
  refused.
- With ADMIN_REQUIRE_MFA on (the production default), an operator without MFA
  is taken, right after a correct password, to the enrolment page (QR code,
  the secret, a first code), and is logged in only once that first code is
  valid; the recovery codes are then shown, once.
- Failed passwords and codes count against the account and the client address
  like the API's login (`accounts.limits`, scope "login", the same counters):
  only failures count, and a success clears the account's.
- With ADMIN_REQUIRE_MFA on, a session of an operator without MFA (one from
  before the requirement) does not open the console either.
- A console session ends SESSION_COOKIE_AGE (ADMIN_SESSION_SECONDS) after its
  login, however active it is.

The tenancy layer's admin pages are registered on `console` by the layers
above it (accounts.admin, church.admin): tenants cannot import this module.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any, cast

import pyotp
import segno
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from accounts import limits
from accounts.errors import InvalidCode
from accounts.mfa import accept_second_factor, mfa_enable, provisioning_uri
from accounts.models import User
from api.clients import client_address
from api.errors import TooManyRequests
from tenants.secrets import decrypt, encrypt

# The session key of an operator between a correct password and a first code,
# and the time they have to scan the QR code and type that code.
ENROLMENT = "console_enrolment"
ENROLMENT_SECONDS = 600

WRONG_CODE = "Enter a valid code from your authenticator app (or a recovery code)."


def _refuse_when_over(*identities: str) -> None:
    """A form error, not a 429 page, once the account or the address is over."""
    try:
        limits.refuse_if_over("login", *identities)
    except TooManyRequests as exc:
        minutes = math.ceil((exc.retry_after or 60) / 60)
        raise ValidationError(
            f"Too many failed attempts. Try again in {minutes} minute(s).",
            code="too_many_attempts",
        ) from exc


def _start_session(request: HttpRequest) -> None:
    """The session ends SESSION_COOKIE_AGE after this login, however active.

    A timedelta is stored as a fixed date: later writes to the session do not
    push it back, as the plain setting (counted from the last write) would.
    """
    request.session.set_expiry(timedelta(seconds=settings.SESSION_COOKIE_AGE))


class ConsoleLoginForm(AdminAuthenticationForm):
    """Email, password and, once the operator has MFA on, the code."""

    code = forms.CharField(
        label="Code",
        required=False,
        max_length=32,
        help_text="From your authenticator app (or a recovery code), once MFA is on.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
    account = ""  # the rate limit's key for the email tried

    def clean(self) -> dict[str, Any]:
        email = (self.cleaned_data.get("username") or "").strip().lower()
        password = self.cleaned_data.get("password") or ""
        if not email or not password:
            return self.cleaned_data  # the empty field reports itself
        request = cast(HttpRequest, self.request)  # the console always passes it
        self.account = f"account:{email}"
        who = (self.account, f"address:{client_address(request)}")
        _refuse_when_over(*who)
        try:
            self.user_cache = self._check(request, email, password)
        except ValidationError:
            limits.record_failure("login", *who)
            raise
        return self.cleaned_data

    def _check(self, request: HttpRequest, email: str, password: str) -> User:
        user = authenticate(request, username=email, password=password)
        if not isinstance(user, User):
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(user)  # active staff only
        code = self.cleaned_data.get("code") or ""
        if user.mfa_enabled and not accept_second_factor(user, code):
            raise ValidationError(WRONG_CODE, code="invalid_code")
        return user


class EnrolmentForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True}
        ),
    )


class ConsoleLoginView(LoginView):
    form_class = ConsoleLoginForm
    template_name = "accounts/console/login.html"
    site_name = "admin"

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if settings.ADMIN_REQUIRE_MFA and not user.mfa_enabled:
            _begin_enrolment(self.request, user)
            return HttpResponseRedirect(
                reverse("admin:enrol", current_app=self.site_name)
            )
        limits.reset("login", cast(ConsoleLoginForm, form).account)
        response = super().form_valid(form)
        _start_session(self.request)
        return response


def _begin_enrolment(request: HttpRequest, user: User) -> None:
    """A fresh secret (any one shown before stops working); not logged in yet."""
    user.mfa_secret = encrypt(pyotp.random_base32())
    user.save(update_fields=["mfa_secret"])
    request.session[ENROLMENT] = {
        "user": str(user.pk),
        "backend": getattr(user, "backend", ""),  # set by authenticate()
        "password": user.get_session_auth_hash(),
        "until": time.time() + ENROLMENT_SECONDS,
    }


def _enrolling(request: HttpRequest) -> User | None:
    """The operator whose password was checked, while that holds and is recent."""
    pending = request.session.get(ENROLMENT)
    if not pending or pending["until"] < time.time():
        return None
    user = User.objects.filter(
        pk=pending["user"], is_active=True, is_staff=True, mfa_enabled=False
    ).first()
    if user is None or not user.mfa_secret:
        return None
    if not constant_time_compare(user.get_session_auth_hash(), pending["password"]):
        return None  # the password changed since
    return user


class ConsoleSite(admin.AdminSite):
    site_header = "churchtext operators' console"
    site_title = "churchtext console"
    index_title = "Registry"

    def has_permission(self, request: HttpRequest) -> bool:
        """Active staff; with ADMIN_REQUIRE_MFA, only with MFA on, so that a
        session from before the requirement (or since MFA was turned off) ends."""
        if settings.ADMIN_REQUIRE_MFA and not getattr(
            request.user, "mfa_enabled", False
        ):
            return False
        return super().has_permission(request)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [path("login/enrol/", self.enrol, name="enrol"), *super().get_urls()]

    @method_decorator(never_cache)
    @login_not_required
    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """AdminSite.login with the console's form and its enrolment step."""
        redirect_url = ConsoleLoginView().get_redirect_url(request) or reverse(
            "admin:index", current_app=self.name
        )
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(redirect_url)
        context = {
            **self.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
            REDIRECT_FIELD_NAME: redirect_url,
            **(extra_context or {}),
        }
        request.current_app = self.name
        view = ConsoleLoginView.as_view(extra_context=context, site_name=self.name)
        return cast(HttpResponse, view(request))

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    @method_decorator(sensitive_post_parameters())
    @login_not_required
    def enrol(self, request: HttpRequest) -> HttpResponse:
        """Turn MFA on, between the password and the login (ADMIN_REQUIRE_MFA)."""
        user = _enrolling(request)
        if user is None:
            request.session.pop(ENROLMENT, None)
            return HttpResponseRedirect(reverse("admin:login", current_app=self.name))
        form = EnrolmentForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            codes = self._enable(request, user, form)
            if codes is not None:
                backend = request.session.pop(ENROLMENT)["backend"] or None
                user.mfa_enabled = True  # as mfa_enable() stored it
                auth_login(request, user, backend=backend)
                _start_session(request)
                context = {
                    **self.each_context(request),
                    "title": "Your recovery codes",
                    "codes": codes,
                }
                return TemplateResponse(
                    request, "accounts/console/recovery_codes.html", context
                )
        secret = decrypt(user.mfa_secret)
        qr = segno.make(provisioning_uri(user, secret), error="m")
        context = {
            **self.each_context(request),
            "title": "Turn on two-factor authentication",
            "form": form,
            # segno draws the code from our own URI: nothing to escape.
            "qr": mark_safe(qr.svg_inline(scale=4, light="white")),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "email": user.email,
        }
        return TemplateResponse(request, "accounts/console/enrol.html", context)

    def _enable(
        self, request: HttpRequest, user: User, form: EnrolmentForm
    ) -> list[str] | None:
        """The recovery codes once the first code is right; None (form error) if not."""
        who = (f"account:{user.email}", f"address:{client_address(request)}")
        try:
            _refuse_when_over(*who)
            try:
                codes = mfa_enable(user=user, code=form.cleaned_data["code"])
            except InvalidCode as exc:
                limits.record_failure("login", *who)
                raise ValidationError(WRONG_CODE, code="invalid_code") from exc
        except ValidationError as error:
            form.add_error("code", error)
            return None
        limits.reset("login", who[0])
        return codes


console = ConsoleSite(name="admin")


class ReadOnly:
    """For records of what happened: listed, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
