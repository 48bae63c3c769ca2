"""Middleware of the API's conventions."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import ValidationError

from api.responses import error_response
from api.unstorable import refuse_unstorable_params


class UnstorableQueryMiddleware:
    """A query parameter holding a NUL is a 400 naming it, on every path.

    Query strings are decoded with replacement characters, so a NUL (`%00`) is
    the only unstorable character one can carry; without one, nothing is parsed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            try:
                refuse_unstorable_params(request.GET)
            except ValidationError as exc:
                return error_response(exc)
        return self.get_response(request)
