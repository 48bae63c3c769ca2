"""Placeholders in message bodies: finding, validating and rendering them.

Pure Python, no Django. The syntax is deliberately tiny and is *not*
``str.format``: a placeholder is a brace pair with nothing but one allowed
name inside, e.g. ``{first_name}``; rendering is a plain text substitution,
so no attribute access, indexing, conversion or format spec is ever
evaluated (``{first_name.__class__}`` is just an invalid placeholder).

Tokens: a *brace token* is ``{`` + any text without braces + ``}`` (the
innermost brace pair, possibly spanning lines).

* A brace token whose inside is exactly an allowed name is a placeholder.
  Names are case-sensitive and take no surrounding spaces.
* Any other brace token (``{foo}``, ``{ first_name }``, ``{}``,
  ``{First_Name}``, ``{first_name.__class__}``) is invalid; the API answers
  ``400 validation_error`` for it.
* A brace that is not part of a brace token (a lone ``{`` or ``}``, or the
  outer braces of ``{{first_name}}``) is literal text. GSM-7 has ``{`` and
  ``}`` (as 2-septet extension characters), so such text is allowed. There is
  no escape syntax: ``{{first_name}}`` renders as ``{Ann}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDERS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "branch_name",
    "church_name",
)

_ALLOWED = frozenset(PLACEHOLDERS)

# Innermost brace pair: no brace inside, so "{{x}}" yields "{x}" and a lone
# brace never swallows text up to some distant one through another brace.
_BRACE_TOKEN = re.compile(r"\{([^{}]*)\}")


def find_placeholders(body: str) -> list[str]:
    """Allowed placeholder names used in ``body``, distinct, in first-use order."""
    names: dict[str, None] = {}  # dict keeps insertion order
    for match in _BRACE_TOKEN.finditer(body):
        if match.group(1) in _ALLOWED:
            names.setdefault(match.group(1))
    return list(names)


def invalid_placeholders(body: str) -> list[str]:
    """Brace tokens in ``body`` that are not allowed placeholders.

    Returned whole, braces included (``"{foo}"``, ``"{}"``), distinct, in
    order of first appearance, ready to show in a validation error. Lone
    braces are literal text and never reported.
    """
    tokens: dict[str, None] = {}
    for match in _BRACE_TOKEN.finditer(body):
        if match.group(1) not in _ALLOWED:
            tokens.setdefault(match.group(0))
    return list(tokens)


def render(body: str, values: Mapping[str, str]) -> str:
    """``body`` with each allowed placeholder replaced by its value.

    A missing (or ``None``) value renders as an empty string; whitespace
    around it is kept as written. Values are inserted verbatim and never
    rescanned, so a value containing ``{last_name}`` or a backslash stays
    literal. Invalid brace tokens are left untouched: validation is the job
    of ``invalid_placeholders`` before a body is saved or sent.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _ALLOWED:
            return match.group(0)
        value = values.get(name)
        return "" if value is None else str(value)

    # re.sub with a function inserts the returned text as-is (no backslash
    # or group-reference processing) and in one left-to-right pass.
    return _BRACE_TOKEN.sub(substitute, body)
