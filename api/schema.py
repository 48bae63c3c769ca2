"""OpenAPI descriptions that drf-spectacular cannot infer by itself."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

if TYPE_CHECKING:
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.request import Request


# The one description of an error answer: `add_error_responses` puts it in
# every schema, and `errors` refers to it.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "fields": {
            "type": "object",
            "description": "validation_error: the messages of each field.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "tenants": {
            "type": "array",
            "description": "tenant_required at login: the churches to choose from.",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "slug": {"type": "string"},
                    "name": {"type": "string"},
                },
                "required": ["id", "slug", "name"],
            },
        },
        "max_sending_numbers": {
            "type": "integer",
            "description": "payment_required for a number: the plan's allowance.",
        },
    },
    "required": ["code", "message"],
}


ERROR_REF = "#/components/schemas/Error"


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse({"$ref": ERROR_REF}) for status in statuses}


ERROR_STATUSES = {
    "400": "Malformed or invalid input (`parse_error`, `validation_error`).",
    "401": "No, bad, expired or revoked token.",
    "402": (
        "Past the plan's quota or sending numbers, or sending paused until the "
        "church pays."
    ),
    "403": "Role too low, tenant mismatch or suspended, or a bad webhook signature.",
    "404": "Not found (also another tenant's ids).",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict.",
    "413": "Body too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests (with Retry-After).",
    "503": "Tenant database unreachable, or the service is degraded.",
}


def add_error_responses(
    result: dict[str, Any],
    generator: SchemaGenerator,
    request: Request | None,
    public: bool,
) -> dict[str, Any]:
    """Every operation may answer the API's errors, always in the Error shape."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = copy.deepcopy(ERROR_SCHEMA)  # a schema's own, to change
    error = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status, {"description": description, "content": error}
                )
    return result


def paginated(
    name: str,
    item: type[serializers.BaseSerializer[Any]] | serializers.Field[Any, Any, Any, Any],
    **extra: serializers.Field[Any, Any, Any, Any],
) -> serializers.Serializer[Any]:
    """The documented shape of a page: count, next, previous, results (+ extras)."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True) if isinstance(item, type) else item,
            **extra,
        },
    )
