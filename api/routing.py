"""Every route answers with and without its trailing slash, without redirects."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any, cast

from django.urls import URLPattern, URLResolver, re_path
from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"  # the constructor only knows "/" or ""


def api_path(route: str, view: Any, name: str | None = None) -> URLPattern:
    """A path that matches with or without the trailing slash."""
    return cast(URLPattern, re_path(rf"^{route.rstrip('/')}/?$", view, name=name))


def api_routes(*apps: str) -> Iterator[URLPattern | URLResolver]:
    """The routes of each app's `urls` module, in order."""
    for app in apps:
        yield from import_module(f"{app}.urls").urlpatterns
