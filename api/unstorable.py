"""Text the database cannot store, refused at the door as bad input.

PostgreSQL refuses a NUL character in text and psycopg cannot encode a lone
UTF-16 surrogate (JSON's `"\\ud800"` decodes to one); either would reach the
database as a 500. The parsers of `api.parsers` and the query check of
`api.middleware` are the one place they are caught, naming the parameter.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import ValidationError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "Contains a character that cannot be stored (a NUL byte or a lone surrogate)."


def is_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def unstorable_path(data: Any, path: str = "") -> str | None:
    """The dotted path of the first unstorable string (or key) in `data`, or None."""
    if isinstance(data, str):
        return (path or "non_field_errors") if is_unstorable(data) else None
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and is_unstorable(key):
                return path or "non_field_errors"
            if (found := unstorable_path(value, name)) is not None:
                return found
    elif isinstance(data, list):
        for index, item in enumerate(data):
            name = f"{path}.{index}" if path else str(index)
            if (found := unstorable_path(item, name)) is not None:
                return found
    return None


def refuse_unstorable(data: Any) -> None:
    """Raise a validation error naming the first unstorable string in `data`."""
    if (path := unstorable_path(data)) is not None:
        raise ValidationError({path: [MESSAGE]})


def refuse_unstorable_params(params: Any) -> None:
    """The same for a QueryDict: every value of every parameter, and the names."""
    for name, values in params.lists():
        if is_unstorable(name):
            raise ValidationError({"non_field_errors": [MESSAGE]})
        for value in values:
            if is_unstorable(value):
                raise ValidationError({name: [MESSAGE]})
