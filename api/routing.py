"""Every route answers with and without its trailing slash, without redirects."""

from __future__ import annotations

from typing import Any, cast

from django.urls import URLPattern, re_path
from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"  # the constructor only knows "/" or ""


def api_path(route: str, view: Any, name: str | None = None) -> URLPattern:
    """A path that matches with or without the trailing slash."""
    return cast(URLPattern, re_path(rf"^{route.rstrip('/')}/?$", view, name=name))
