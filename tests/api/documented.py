"""Error answers checked against the `Error` shape the API's schema documents."""

import functools

import jsonschema
from rest_framework.test import APIClient


@functools.cache
def _served_error() -> dict:
    served = APIClient().get("/api/schema", {"format": "json"})
    return served.json()["components"]["schemas"]["Error"]


def assert_documented_error(response) -> None:
    """The answer fits the served schema's `Error`, with no key it leaves out."""
    strict = _served_error() | {"additionalProperties": False}
    jsonschema.validate(response.json(), strict)
