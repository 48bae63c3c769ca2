"""Compliance keywords in inbound messages (exact whole-message matches)."""

from __future__ import annotations

import re

OPT_OUT = frozenset(
    {
        "STOP",
        "STOPALL",
        "STOP ALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT OUT",
        "OPT-OUT",
    }
)
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})

# Words that, inside a longer message, suggest someone wants no more texts; such
# messages are flagged for staff, never acted on automatically.
_INTENT = re.compile(
    r"\b(stop|unsubscribe|quit|cancel|opt[\s-]?out|remove me|no more|don'?t text|"
    r"do not text|leave me alone)\b",
    re.IGNORECASE,
)


def _normalise(body: str) -> str:
    return " ".join(body.split()).casefold().upper()


def word(body: str) -> str:
    """The keyword as received, normalised (what a consent record keeps)."""
    return _normalise(body)[:64]


def classify(body: str) -> str | None:
    """`opt_out`, `opt_in`, `help`, or None for an ordinary message."""
    word = _normalise(body)
    if word in OPT_OUT:
        return "opt_out"
    if word in OPT_IN:
        return "opt_in"
    if word in HELP:
        return "help"
    return None


def possible_opt_out(body: str) -> bool:
    """An ordinary message that may mean "stop" ("please stop texting me")."""
    return classify(body) is None and bool(_INTENT.search(body))
