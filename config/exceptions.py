"""DRF's exception handler: every error in the API's one shape, never a traceback.

Domain, DRF and Django exceptions are translated by `api.responses`; a lost
database connection is the tenancy layer's to judge (was it the tenant's
server? then hold it), which is why this small piece lives where the layers
meet.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework.response import Response

from api.responses import (
    SERVER_ERROR,
    as_error,
    error_body,
    error_headers,
    error_status,
)
from tenants.connections import set_static_rollback
from tenants.holds import unavailable

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    error = as_error(exc)
    if error is None and isinstance(exc, OperationalError | InterfaceError):
        error = unavailable(exc)
    set_static_rollback()
    if error is None:
        logger.exception("unhandled error in %s", context.get("view"), exc_info=exc)
        if isinstance(exc, DatabaseError):
            logger.error("database error: %s", exc)
        return Response(SERVER_ERROR, status=500)
    return Response(
        error_body(error), status=error_status(error), headers=error_headers(error)
    )
