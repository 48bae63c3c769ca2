"""Every route answers with and without its trailing slash, without redirects;
a path is matched only against the routes of its first segment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import import_module
from typing import Any, cast

from django.urls import URLPattern, URLResolver, re_path
from django.urls.resolvers import ResolverMatch, RoutePattern
from rest_framework.routers import SimpleRouter

# A regex route whose first segment is literal: `^members/...`, `^tenant/?$`.
_LITERAL_FIRST = re.compile(r"\^([\w-]+)(?:/|\$)")


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


def _first_segment(route: URLPattern | URLResolver) -> str | None:
    """The literal first segment every path the route matches starts with."""
    regex = getattr(route.pattern, "_regex", None)
    if not isinstance(route, URLPattern) or not isinstance(regex, str):
        return None
    if "|" in regex:  # an alternative may start elsewhere: tried for every path
        return None
    literal = _LITERAL_FIRST.match(regex)
    return literal[1] if literal else None


class SegmentResolver(URLResolver):
    """`path(prefix, include(routes))`, but a path is tried only against the
    routes of its first segment (and those without a literal one), in their
    order: the API has some 75 routes, and trying each in turn is a
    measurable part of a request. Reversing, checks and the schema see every
    route, as in any resolver."""

    def __init__(self, prefix: str, routes: list[URLPattern | URLResolver]) -> None:
        super().__init__(RoutePattern(prefix), routes)
        keys = [_first_segment(route) for route in routes]

        def narrowed(key: str | None) -> URLResolver:
            pairs = zip(routes, keys, strict=True)
            return URLResolver(self.pattern, [r for r, k in pairs if k in (key, None)])

        self._by_segment = {key: narrowed(key) for key in set(keys) - {None}}
        self._unkeyed = narrowed(None)

    def resolve(self, path: str) -> ResolverMatch:
        path = str(path)
        match = self.pattern.match(path)
        if match is None:
            return super().resolve(path)  # raises Resolver404 as Django's does
        segment = match[0].partition("/")[0]
        return self._by_segment.get(segment, self._unkeyed).resolve(path)
