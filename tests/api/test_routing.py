"""The API's resolver: a path tried only against its first segment's routes
finds what trying every route in order finds."""

import re
import uuid

import pytest
from django.http import HttpResponse
from django.urls import Resolver404, URLResolver, get_resolver, re_path
from django.urls.resolvers import RoutePattern

from api.routing import SegmentResolver


def view(request):  # pragma: no cover - never called
    return HttpResponse()


def api_resolver() -> SegmentResolver:
    found = [p for p in get_resolver().url_patterns if isinstance(p, SegmentResolver)]
    assert len(found) == 1
    return found[0]


def sample_path(regex: str) -> str:
    """A path the route matches: each group filled with a value it accepts."""
    group = r"\(\?P<\w+>[^)]*\)(\{[^}]*\})?"
    path = re.sub(group, lambda _: uuid.uuid4().hex[:12], regex)
    return path.removeprefix("^").removesuffix("$").replace("/?", "")


def test_every_api_route_is_found_as_a_full_scan_finds_it():
    api = api_resolver()
    everything = URLResolver(RoutePattern("api/"), api.url_patterns)
    paths = [f"api/{sample_path(p.pattern._regex)}" for p in api.url_patterns]
    assert len(paths) > 50
    for path in [*paths, *(f"{p}/" for p in paths)]:
        mine, theirs = api.resolve(path), everything.resolve(path)
        assert (mine.view_name, mine.kwargs, mine.route) == (
            theirs.view_name, theirs.kwargs, theirs.route,
        ), path  # fmt: skip


@pytest.mark.parametrize("path", ["api/nothing/here", "api/", "api/members/a/b/c/d"])
def test_a_path_no_route_matches_is_not_found(path):
    with pytest.raises(Resolver404):
        api_resolver().resolve(path)


def test_routes_without_a_literal_first_segment_keep_their_place():
    routes = [
        re_path(r"^members/first/?$", view, name="keyed-before"),
        re_path(r"^(?P<kind>[a-z]+)/special/?$", view, name="unkeyed"),
        re_path(r"^members/special/?$", view, name="keyed-after"),
        re_path(r"^members/(?P<pk>[^/]+)/?$", view, name="detail"),
        re_path(
            r"^branches/(?P<pk>\d+)/?$|^groups/(?P<gid>\d+)/?$", view, name="either"
        ),
    ]
    resolver = SegmentResolver("api/", routes)
    assert resolver.resolve("api/members/first").view_name == "keyed-before"
    assert resolver.resolve("api/members/special").view_name == "unkeyed"
    assert resolver.resolve("api/branches/special").view_name == "unkeyed"
    assert resolver.resolve("api/members/42").kwargs == {"pk": "42"}
    assert resolver.resolve("api/groups/7").view_name == "either"
    with pytest.raises(Resolver404):
        resolver.resolve("api/branches/x42")
    with pytest.raises(Resolver404):
        resolver.resolve("other/members/42")
