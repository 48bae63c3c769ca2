"""One answer shape for every error: `{code, message}`, plus `fields` on bad input.

`error_response` builds it from a domain error, from DRF's exceptions and from
Django's (404, permission denied, a body too large). Database errors are not
known here: `config.exceptions` asks the tenancy layer about them first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions

from api.errors import STATUS, Conflict, DomainError, PayloadTooLarge

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


def _validation_body(fields: dict[str, list[str]]) -> dict[str, Any]:
    fields = dict(fields)
    general = fields.pop("non_field_errors", None)
    message = general[0] if general else "Invalid input."
    return {"code": "validation_error", "message": message, "fields": fields}


def as_error(exc: Exception) -> DomainError | exceptions.APIException | None:
    """The API error an exception stands for; None for a server-side fault."""
    if isinstance(exc, DomainError | exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound("Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return PayloadTooLarge()
    if isinstance(exc, IntegrityError):
        # A unique value taken by a concurrent request after validation passed.
        return Conflict("This conflicts with a change made at the same moment; retry.")
    if isinstance(exc, DataError):
        # A value the database refused (out of range, unstorable) that no
        # validation caught: the input's fault, and the transaction rolls back.
        return exceptions.ValidationError(
            {"non_field_errors": ["A value is out of range or cannot be stored."]}
        )
    return None


def error_status(exc: DomainError | exceptions.APIException) -> int:
    return exc.status if isinstance(exc, DomainError) else exc.status_code


def error_body(exc: DomainError | exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, DomainError):
        if exc.code == "validation_error" and exc.fields:
            return {**_validation_body(exc.fields), **exc.extra}
        fields = {"fields": exc.fields} if exc.fields else {}
        return {"code": exc.code, "message": exc.message, **fields, **exc.extra}
    code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), None)
    if code == "validation_error":
        return _validation_body(_flatten(exc.detail))
    detail: object = exc.detail
    if isinstance(detail, list | dict):
        detail = next(iter(_flatten(detail).values()), [""])[0]
    return {
        "code": code or str(getattr(exc, "default_code", "error")),
        "message": str(detail),
    }


def error_headers(exc: DomainError | exceptions.APIException) -> dict[str, str]:
    if isinstance(exc, DomainError):
        return exc.response_headers()
    headers = {}
    if getattr(exc, "auth_header", None):
        # Set at runtime by DRF (APIView.handle_exception); undeclared in the stubs.
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        # Throttled.wait exists at runtime but djangorestframework-stubs omit it.
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return headers


def error_response(exc: DomainError | exceptions.APIException) -> JsonResponse:
    """The error answered outside DRF (middleware, Django's error handlers)."""
    response = JsonResponse(error_body(exc), status=error_status(exc))
    for name, value in error_headers(exc).items():
        response[name] = value
    return response


SERVER_ERROR = {"code": "server_error", "message": "Something went wrong on our side."}


_PAGE_MESSAGES = {
    "bad_request": "Bad request.",
    "permission_denied": "Permission denied.",
    "not_found": "Not found.",
    "server_error": SERVER_ERROR["message"],
}


def json_error_view(code: str) -> Callable[..., JsonResponse]:
    """Django's handler400/403/404/500 in the API's shape."""
    body = {"code": code, "message": _PAGE_MESSAGES[code]}

    def view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
        return JsonResponse(body, status=STATUS[code])

    return view
