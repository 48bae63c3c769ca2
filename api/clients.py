"""Who the client is, as far as the network can tell."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address: `REMOTE_ADDR`, or behind TRUSTED_PROXY_HOPS proxies
    the X-Forwarded-For entry that many from the right (the one our own
    outermost proxy added; entries left of it are the client's to forge)."""
    hops = settings.TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return str(forwarded[-hops])
    return str(request.META.get("REMOTE_ADDR", ""))
