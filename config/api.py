"""The API's conventions: one error handler, optional trailing slashes, pagination."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.paginator import Paginator as DjangoPaginator
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
)
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import URLPattern, re_path
from django.utils.functional import cached_property
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import set_rollback

from config.errors import (
    Conflict,
    PayloadTooLarge,
    ServiceUnavailable,
    TenantUnavailable,
    error_body,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from tenants.models import Tenant

    # Django's Paginator is generic only in the stubs, not at runtime.
    _Paginator = DjangoPaginator[Any]
else:
    _Paginator = DjangoPaginator

logger = logging.getLogger(__name__)


def _translate(exc: Exception) -> exceptions.APIException | None:
    """Map framework and database exceptions onto API errors."""
    from tenants.context import current_tenant

    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound("Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return PayloadTooLarge()
    if isinstance(exc, IntegrityError):
        # A unique value taken by a concurrent request after validation passed.
        return Conflict("This conflicts with a change made at the same moment; retry.")
    if isinstance(exc, OperationalError | InterfaceError):
        tenant = current_tenant() or getattr(exc, "tenant", None)
        if tenant is not None and not _tenant_reachable(tenant, exc):
            from tenants.health import mark_server_down

            mark_server_down(tenant.server_id)
            return TenantUnavailable()
        return ServiceUnavailable(headers={"Retry-After": "10"})
    return None


# SQLSTATE classes of a server that is gone or going (not of a failed query).
_UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def _tenant_reachable(tenant: Tenant, exc: Exception) -> bool:
    """Whether the tenant's own database answers (the error may be the registry's).

    When the tenant's own connection failed to connect (its pool found no
    connection, or the server is gone), a second try would only wait out
    another connect timeout; any other error (the registry's, a deadlock, a
    statement timeout) is checked by connecting again.
    """
    from psycopg_pool import PoolTimeout

    from tenants.connections import failed_in_this_thread
    from tenants.context import tenant_context

    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", "") or ""
    if failed_in_this_thread(tenant.alias) and (
        isinstance(cause, PoolTimeout) or sqlstate.startswith(_UNREACHABLE_SQLSTATES)
    ):
        return False
    try:
        with tenant_context(tenant):
            wrapper = connections[tenant.alias]
            wrapper.ensure_connection()
            return wrapper.is_usable()
    except Exception:
        return False


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error in one shape; never a traceback."""
    api_exc = _translate(exc)
    set_rollback()
    if api_exc is None:
        logger.exception("unhandled error in %s", context.get("view"), exc_info=exc)
        if isinstance(exc, DatabaseError):
            logger.error("database error: %s", exc)
        return Response(
            {"code": "server_error", "message": "Something went wrong on our side."},
            status=500,
        )
    headers = dict(getattr(api_exc, "headers", {}) or {})
    if getattr(api_exc, "auth_header", None):
        # Set at runtime by DRF (APIView.handle_exception); undeclared in the stubs.
        headers["WWW-Authenticate"] = api_exc.auth_header  # type: ignore[attr-defined]
    if getattr(api_exc, "wait", None):
        # Throttled.wait exists at runtime but djangorestframework-stubs omit it.
        headers["Retry-After"] = str(int(api_exc.wait))  # type: ignore[attr-defined]
    return Response(error_body(api_exc), status=api_exc.status_code, headers=headers)


def json_error_view(
    status_code: int, code: str, message: str
) -> Callable[..., JsonResponse]:
    def view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
        return JsonResponse({"code": code, "message": message}, status=status_code)

    return view


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


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without its trailing slash, without redirects."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"  # the constructor only knows "/" or ""


def parse_uuid(value: object) -> uuid.UUID | None:
    """A UUID from a query parameter or path segment, or None if it is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def api_path(route: str, view: Any, name: str | None = None) -> URLPattern:
    """A path that matches with or without the trailing slash."""
    return cast(URLPattern, re_path(rf"^{route.rstrip('/')}/?$", view, name=name))
