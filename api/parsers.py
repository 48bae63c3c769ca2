"""DRF's parsers, refusing text the database cannot store (`api.unstorable`)."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers

from api.unstorable import refuse_unstorable, refuse_unstorable_params


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: Any, media_type: Any = None, parser_context: Any = None
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_unstorable(data)
        return data


class FormParser(parsers.FormParser):
    def parse(
        self, stream: Any, media_type: Any = None, parser_context: Any = None
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_unstorable_params(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Form fields are checked; an uploaded file's content is its reader's to judge."""

    def parse(
        self, stream: Any, media_type: Any = None, parser_context: Any = None
    ) -> Any:
        result = super().parse(stream, media_type, parser_context)
        refuse_unstorable_params(result.data)
        return result
