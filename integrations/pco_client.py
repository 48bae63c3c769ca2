"""Planning Center's API: HTTP Basic, JSON:API pages, its rate limit kept.

A small client on `requests` (no kept Python library covers People and
Webhooks with rate limits: `pypco` has not been released since 2021). Pages
are followed by `links.next`, 100 at a time. Planning Center allows a number of
requests per period for an account (`X-PCO-API-Request-Rate-Limit` per
`-Period`, 100 per 20 s): the client keeps its own requests under that in a
sliding window, waits a period when an answer says the account's count is
used up, and a `429` from someone else's share is waited out as long as
`Retry-After` says, up to `PLANNING_CENTER_MAX_WAIT_SECONDS` in all, so a run
never fails because of the limit.

`clock` and `sleep` are module attributes so that tests can give the client and
the stand-in one clock that only waiting moves.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import requests
from django.conf import settings

from api.errors import UpstreamError

clock = time.monotonic
sleep = time.sleep

PER_PAGE = 100
INCLUDE = "phone_numbers,emails"


class PlanningCenterError(UpstreamError):
    """Planning Center refused or did not answer; its message is passed on."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(f"Planning Center: {message}")
        self.upstream_status = status


class Gone(PlanningCenterError):
    """A `404`: the list or person is not there (any more)."""


class Client:
    def __init__(self, app_id: str, secret: str) -> None:
        self.base = settings.PLANNING_CENTER_API_BASE.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (app_id, secret)
        self.session.headers["Accept"] = "application/json"
        self.timeout = settings.PLANNING_CENTER_TIMEOUT_SECONDS
        self.limit, self.period = 100, 20.0  # until an answer says otherwise
        self.sent: deque[float] = deque()  # when this client's recent requests went
        self.blocked_until = 0.0  # the account's share is used up until then
        self.requests = 0

    def _wait(self, seconds: float, deadline: float) -> None:
        if clock() + seconds > deadline:  # a page must not outlast its run's lease
            raise PlanningCenterError("its rate limit did not lift.", status=429)
        sleep(seconds)

    def _pace(self, deadline: float) -> None:
        """Wait until one more request stays within the limit."""
        while True:
            now = clock()
            if now < self.blocked_until:
                self._wait(self.blocked_until - now, deadline)
                continue
            while self.sent and now - self.sent[0] >= self.period:
                self.sent.popleft()
            if len(self.sent) < self.limit:
                self.sent.append(now)
                return
            self._wait(self.period - (now - self.sent[0]), deadline)

    def _learn(self, answer: requests.Response) -> None:
        """The account's limit, and whether others (webhooks, another run of
        the same account) used it up: then wait a whole period."""
        headers = answer.headers
        try:
            limit = int(headers["X-PCO-API-Request-Rate-Limit"])
            period = float(headers["X-PCO-API-Request-Rate-Period"])
            used = int(headers["X-PCO-API-Request-Rate-Count"])
        except (KeyError, ValueError):
            return
        # Believed within sane bounds only (a period of a day or NaN is not one).
        self.limit = min(max(1, limit), 10_000)
        self.period = min(max(1.0, period), 60.0) if period == period else 20.0
        if used >= self.limit:
            self.blocked_until = clock() + self.period

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        if not url.startswith("http"):
            url = self.base + url
        deadline = clock() + settings.PLANNING_CENTER_MAX_WAIT_SECONDS
        while True:
            self._pace(deadline)
            self.requests += 1
            try:
                answer = self.session.request(
                    method, url, params=params, json=json, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise PlanningCenterError("it did not answer.") from exc
            self._learn(answer)
            if answer.status_code != 429:
                break
            self._wait(_retry_after(answer), deadline)
        if answer.status_code == 404:
            raise Gone(_message(answer), status=404)
        if answer.status_code >= 400:
            raise PlanningCenterError(_message(answer), status=answer.status_code)
        if answer.status_code == 204 or not answer.content:
            return {}
        try:
            body = answer.json()
        except ValueError as exc:
            raise PlanningCenterError("it answered something other than JSON.") from exc
        if not isinstance(body, dict):
            raise PlanningCenterError("it answered something other than JSON:API.")
        return body

    def pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        start: str | None = None,
    ) -> Iterator[tuple[dict[str, Any], str | None]]:
        """Each page of a collection and the address of the next (None: last).

        `start` resumes at a page's address given by an earlier `links.next`.
        """
        url: str | None = start or path
        query = None if start else {"per_page": PER_PAGE, **(params or {})}
        while url:
            page = self.request("GET", url, params=query)
            url = (page.get("links") or {}).get("next")
            query = None  # links.next carries the query
            yield page, url

    def lists(self) -> list[dict[str, str]]:
        """Every list: `[{id, name}]`."""
        found = []
        for page, _ in self.pages("/people/v2/lists", {"order": "name"}):
            for item in page.get("data") or []:
                if not isinstance(item, dict) or not text(item.get("id"), 64):
                    continue  # not a list as JSON:API gives one
                attributes = item.get("attributes") or {}
                name = (
                    text(attributes.get("name"), 200)
                    if isinstance(attributes, dict)
                    else ""
                )
                found.append({"id": text(item["id"], 64), "name": name})
        return found

    def list_people(
        self, list_id: str, *, start: str | None = None
    ) -> Iterator[tuple[dict[str, Any], str | None]]:
        return self.pages(
            f"/people/v2/lists/{list_id}/people", {"include": INCLUDE}, start=start
        )

    def person(self, person_id: str) -> dict[str, Any]:
        return self.request(
            "GET", f"/people/v2/people/{person_id}", params={"include": INCLUDE}
        )

    def subscribe(self, name: str, url: str) -> dict[str, str]:
        """A webhook subscription: `{id, secret}` (its authenticity secret)."""
        body = self.request(
            "POST",
            "/webhooks/v2/subscriptions",
            json={"data": {"attributes": {"name": name, "url": url, "active": True}}},
        )
        data = body.get("data")
        data = data if isinstance(data, dict) else {}
        attributes = data.get("attributes")
        secret = (
            attributes.get("authenticity_secret")
            if isinstance(attributes, dict)
            else None
        )
        if not data.get("id") or not isinstance(secret, str) or len(secret) < 16:
            # Without its own secret a subscription's deliveries could not be told
            # from anyone's: refused rather than kept.
            if data.get("id"):
                try:
                    self.unsubscribe(text(data["id"], 64))
                except PlanningCenterError:
                    pass  # left behind, it posts to a URL that answers 404
            raise PlanningCenterError(
                "it made a webhook subscription without a secret."
            )
        return {"id": text(data["id"], 64), "secret": secret}

    def unsubscribe(self, subscription_id: str) -> None:
        try:
            self.request("DELETE", f"/webhooks/v2/subscriptions/{subscription_id}")
        except Gone:
            pass


def text(value: Any, limit: int) -> str:
    """Planning Center's text as this database holds it (no NUL), trimmed."""
    return str(value if value is not None else "").replace("\x00", "").strip()[:limit]


def _retry_after(answer: requests.Response) -> float:
    try:
        seconds = float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return 20.0
    return min(max(1.0, seconds), 600.0) if seconds == seconds else 20.0


def _message(answer: requests.Response) -> str:
    try:
        errors = answer.json().get("errors") or []
        first = errors[0]
        return str(first.get("detail") or first.get("title") or answer.reason)[:300]
    except (ValueError, AttributeError, IndexError, TypeError):
        return f"HTTP {answer.status_code}"
