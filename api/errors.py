"""Errors with a stable machine `code`, a human `message`, and `fields` on bad input.

Services raise these, or their own subclasses kept in their app's `errors.py`
(`NoRecipients`, `NumberTaken`...); nothing here imports a web framework. The
status each code answers with is this module's table, the API's contract; the
answer itself is built in one place, `api.responses`.
"""

from __future__ import annotations

from typing import Any, ClassVar

STATUS: dict[str, int] = {
    "bad_request": 400,
    "validation_error": 400,
    "parse_error": 400,
    "tenant_required": 400,
    "invalid_link": 400,
    "not_authenticated": 401,
    "invalid_token": 401,
    "token_revoked": 401,
    "invalid_credentials": 401,
    "quota_exceeded": 402,
    "payment_required": 402,
    "permission_denied": 403,
    "tenant_mismatch": 403,
    "tenant_suspended": 403,
    "invalid_signature": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "conflict": 409,
    "email_taken": 409,
    "not_available": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "too_many_requests": 429,
    "server_error": 500,
    "upstream_error": 502,
    "tenant_unavailable": 503,
    "provisioning_failed": 503,
    "service_unavailable": 503,
}


class DomainError(Exception):
    """A refusal the caller can act on; subclasses fix `code` and `message`."""

    code: ClassVar[str] = "bad_request"
    message: str = "The request could not be processed."
    headers: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or self.message
        super().__init__(self.message)
        self.fields = fields
        self.extra = extra or {}
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class InvalidInput(DomainError):
    """Input that passed the serializer but not the rules of the service.

    Subclasses name the `field` at fault; `fields` reports several at once.
    """

    code = "validation_error"
    message = "Invalid input."
    field: ClassVar[str] = "non_field_errors"

    def __init__(
        self, message: str | None = None, *, fields: dict[str, list[str]] | None = None
    ) -> None:
        message = message or self.message
        super().__init__(message, fields=fields or {self.field: [message]})


class Forbidden(DomainError):
    code = "permission_denied"
    message = "You do not have permission to perform this action."


class InvalidSignature(DomainError):
    """A webhook whose signature does not verify its body: nothing was read."""

    code = "invalid_signature"
    message = "The request signature is not valid."


class NotFound(DomainError):
    code = "not_found"
    message = "Not found."


class Conflict(DomainError):
    code = "conflict"
    message = "The request conflicts with the current state."


class NotAvailable(DomainError):
    """A feature the configured backend or setup lacks."""

    code = "not_available"
    message = "This is not available on this service."


class UpstreamError(DomainError):
    """An outside service the request needed failed or timed out."""

    code = "upstream_error"
    message = "An outside service failed; try again later."


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    message = "The request body is too large."


class TooManyRequests(DomainError):
    code = "too_many_requests"
    message = "Too many requests; try again later."


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    message = "Service temporarily unavailable."
    headers = {"Retry-After": "10"}
