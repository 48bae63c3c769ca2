"""The member CRUD cycle of `bench.crud`, shared with the plain baseline app:
create (with a tag), read, list (a page of 20), update, delete one member.

No Django model import at module level: the plain app's process loads it too.
"""

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

OPS = ["create", "read", "list", "update", "delete"]
FIRST = ["Anna", "Ben", "Carla", "David", "Esther", "Felix", "Grace", "Hugo"]
LAST = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Young"]

# send(method, path, JSON body or None) -> (status, parsed JSON or None, seconds)
Send = Callable[[str, str, Any], tuple[int, Any, float]]


def phone(area: int, n: int, exchange: int = 200) -> str:
    """The n-th valid US number from +1 AREA EXCHANGE-0000 (10,000 per exchange)."""
    return f"+1{area}{exchange + n // 10_000:03d}{n % 10_000:04d}"


def seed_rows(count: int) -> list[dict[str, Any]]:
    """Seeded members: +1 212 200-0000 upwards."""
    return [
        {"first_name": FIRST[n % len(FIRST)], "last_name": f"{LAST[n % len(LAST)]}{n}",
         "phone": phone(212, n), "email": f"member{n}@example.org"}
        for n in range(count)
    ]  # fmt: skip


def cycle_phone(space: int, n: int) -> str:
    """Numbers a client creates: one exchange per client, never a seeded one."""
    return phone(312, n % 10_000, 300 + space)


def op_of(method: str, path: str) -> str:
    return {"POST": "create", "PATCH": "update", "DELETE": "delete"}.get(
        method, "list" if "?" in path else "read"
    )


def cycle(send: Send, phone: str) -> dict[str, float]:
    """One cycle; op -> seconds. Raises on any unexpected answer."""
    took: dict[str, float] = {}

    def call(method: str, path: str, body: Any, status: int) -> Any:
        code, data, seconds = send(method, path, body)
        if code != status:
            raise RuntimeError(f"{method} {path}: {code} {str(data)[:300]}")
        took[op_of(method, path)] = seconds
        return data

    member = {"first_name": "Cycle", "last_name": "Member", "phone": phone,
              "email": "cycle@example.org", "tags": ["bench"]}  # fmt: skip
    path = f"/api/members/{call('POST', '/api/members', member, 201)['id']}"
    call("GET", path, None, 200)
    page = call("GET", "/api/members?page_size=20", None, 200)
    if len(page["results"]) != 20:
        raise RuntimeError(f"list: {len(page['results'])} results, not 20")
    call("PATCH", path, {"last_name": "Updated", "notes": "n"}, 200)
    call("DELETE", path, None, 204)
    return took


def count_sql(token: str, aliases: list[str], repeats: int, space: int) -> dict:
    """SQL statements per op of `repeats` cycles through django.test.Client,
    counted on each database alias (None: not registered before the request)."""
    from django.db import connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"authorization": f"Bearer {token}"})
    counts: dict[str, list[list[int]]] = {op: [] for op in OPS}

    def send(method: str, path: str, body: Any) -> tuple[int, Any, float]:
        known = [a for a in aliases if a in connections.settings]
        captured = {a: CaptureQueriesContext(connections[a]) for a in known}
        with ExitStack() as stack:
            list(map(stack.enter_context, captured.values()))
            data = json.dumps(body) if body is not None else ""
            response = client.generic(method, path, data, "application/json")
        seen = [len(captured[a]) if a in captured else None for a in aliases]
        counts[op_of(method, path)].append(seen)
        return response.status_code, response.json() if response.content else None, 0.0

    for i in range(repeats):
        cycle(send, cycle_phone(space, i))
    return counts
