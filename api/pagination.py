"""Pages: `{count, next, previous, results}`, 20 a page, at most 100."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from django.core.paginator import Paginator as DjangoPaginator
from django.db import connections
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

if TYPE_CHECKING:
    from django.db.models import QuerySet

    # Django's Paginator is generic only in the stubs, not at runtime.
    _Paginator = DjangoPaginator[Any]
else:
    _Paginator = DjangoPaginator


class Pagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class EstimatingPaginator(_Paginator):
    """Exact counts up to ESTIMATE_ABOVE rows; beyond, PostgreSQL's own estimate.

    Counting a million messages on every page costs ~90 ms here; a history page
    itself costs a few. Above the threshold `count` is the planner's row
    estimate (kept fresh by autovacuum's ANALYZE), which is what a listing shows.
    """

    ESTIMATE_ABOVE = 100_000

    @cached_property
    def count(self) -> int:
        queryset = cast("QuerySet[Any]", self.object_list)  # only given querysets
        if connections[queryset.db].vendor == "postgresql":
            plan = json.loads(queryset.explain(format="json"))
            estimate = int(plan[0]["Plan"]["Plan Rows"])
            if estimate > self.ESTIMATE_ABOVE:
                return estimate
        return queryset.count()


class LargePagination(Pagination):
    """For listings that can reach millions of rows (message history)."""

    django_paginator_class = EstimatingPaginator
