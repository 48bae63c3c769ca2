"""API errors: a stable machine `code`, a human `message`, and `fields` when validating.

Kept apart from config/api.py so that authentication code can raise them
without importing DRF's views (a circular import).
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from rest_framework import exceptions, status


class ApiError(exceptions.APIException):
    """An error with a stable machine `code`; subclasses fix status and code."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.default_detail, self.default_code)
        self.extra = extra or {}
        self.headers = headers or {}


def _error(status_code: int, code: str, detail: str) -> type[ApiError]:
    return type(
        "".join(part.title() for part in code.split("_")),
        (ApiError,),
        {"status_code": status_code, "default_code": code, "default_detail": detail},
    )


InvalidToken = _error(401, "invalid_token", "The token is invalid or expired.")
TokenRevoked = _error(401, "token_revoked", "The token has been revoked.")
InvalidCredentials = _error(401, "invalid_credentials", "Wrong email or password.")
TenantRequired = _error(400, "tenant_required", "Name the tenant to log in to.")
TenantMismatch = _error(
    403, "tenant_mismatch", "The tenant named differs from the token's."
)
TenantSuspended = _error(403, "tenant_suspended", "This church's account is suspended.")
Conflict = _error(409, "conflict", "The request conflicts with the current state.")
EmailTaken = _error(409, "email_taken", "An account with this email already exists.")
PayloadTooLarge = _error(413, "payload_too_large", "The request body is too large.")
TooManyRequests = _error(
    429, "too_many_requests", "Too many requests; try again later."
)
ProvisioningFailed = _error(
    503, "provisioning_failed", "The church's database could not be created; retry."
)
ServiceUnavailable = _error(
    503, "service_unavailable", "Service temporarily unavailable."
)


class TenantUnavailable(ApiError):
    status_code = 503
    default_code = "tenant_unavailable"
    default_detail = "This church's database is unreachable; try again shortly."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": "30"})


_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "invalid_token"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "too_many_requests"),
]


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error details as {"field" or "field.sub": [messages]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if not prefix:
                name = str(key)
            elif key == "non_field_errors":  # a nested object's own errors
                name = prefix
            else:
                name = f"{prefix}.{key}"
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            name = f"{prefix}.{index}" if prefix else str(index)
            for k, v in _flatten(item, name).items():
                out.setdefault(k, []).extend(v)
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"code": exc.default_code, "message": str(exc.detail), **exc.extra}
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), None)
    if code == "validation_error":
        fields = _flatten(exc.detail)
        general = fields.pop("non_field_errors", None)
        message = general[0] if general else "Invalid input."
        return {"code": code, "message": message, "fields": fields}
    detail: object = exc.detail
    if isinstance(detail, list | dict):
        detail = next(iter(_flatten(detail).values()), [""])[0]
    return {
        "code": code or str(getattr(exc, "default_code", "error")),
        "message": str(detail),
    }


def error_response(exc: exceptions.APIException) -> JsonResponse:
    """The same shape for answers produced outside DRF (middleware)."""
    response = JsonResponse(error_body(exc), status=exc.status_code)
    for name, value in (getattr(exc, "headers", {}) or {}).items():
        response[name] = value
    return response
