"""Log formatting: JSON lines in production, text in development; never a
phone number or a token.

`LOG_FORMAT=json` writes one object per line with the context's
`request_id`, `tenant_id` and `user_id`, and whatever a line was given as
`extra` (the access line's method, route, status and duration). Both formats
redact E.164 numbers and bearer tokens from messages and tracebacks, a net
under the rule that no log line is written with a phone, a body or a token.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from telemetry.context import current

_SECRETS = re.compile(
    r"\+\d{7,15}"  # an E.164 phone number
    r"|eyJ[\w-]+\.[\w-]+\.[\w-]+"  # a JWT
    r"|(?i:bearer)\s+\S+"
)
_CONTEXT = ("request_id", "tenant_id", "user_id")

# No format here shows where a line was logged from or by which thread or
# process: skip collecting it for every record (the logging HOWTO's own
# optimisation advice; it is most of a record's cost).
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
# Attributes every LogRecord has: what is left was passed as `extra`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_NOT_EXTRA = frozenset(_STANDARD | set(_CONTEXT))


def redact(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


class ContextFilter(logging.Filter):
    """Puts the context's ids on each record (for the text format's `%(...)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current()
        for name in _CONTEXT:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name, "-"))
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    # Every request writes a line: the second's text is made once per second.
    _second: tuple[int, str] = (-1, "")

    def _time(self, record: logging.LogRecord) -> str:
        created = record.created
        second, cached = int(created), self._second  # one read: threads share it
        if cached[0] != second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            cached = self._second = (second, text)
        return f"{cached[1]}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        fields = current()
        line: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in _CONTEXT:
            value = getattr(record, name, None)
            value = fields.get(name) if value in (None, "-") else value
            if value is not None:
                line[name] = value
        for name, value in vars(record).items():
            if name not in _NOT_EXTRA:  # it came as `extra`
                line[name] = value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)
