"""The member CRUD cycle of bench/crud.py, shared with the plain baseline app.

No Django import at module level: the plain app's process imports this too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

OPS = ["create", "read", "list", "update", "delete"]
FIRST = ["Anna", "Ben", "Carla", "David", "Esther", "Felix", "Grace", "Hugo"]
LAST = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Young"]

# send(method, path, json body or None) -> (status, parsed JSON or None, seconds)
Send = Callable[[str, str, Any], tuple[int, Any, float]]


def seed_phone(n: int) -> str:
    """Seeded members: +1 212 200-0000 upwards (all valid US numbers)."""
    return f"+1212{200 + n // 10_000:03d}{n % 10_000:04d}"


def cycle_phone(space: int, n: int) -> str:
    """Numbers a client creates: one exchange per client, never a seeded one."""
    return f"+1312{300 + space:03d}{n % 10_000:04d}"


def seed_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "first_name": FIRST[n % len(FIRST)],
            "last_name": f"{LAST[n % len(LAST)]}{n}",
            "phone": seed_phone(n),
            "email": f"member{n}@example.org",
        }
        for n in range(count)
    ]


def cycle(send: Send, phone: str) -> dict[str, float]:
    """create, read, list (a page of 20), update, delete one member; op -> seconds."""
    took: dict[str, float] = {}

    def call(op: str, method: str, path: str, body: Any, status: int) -> Any:
        code, data, seconds = send(method, path, body)
        if code != status:
            raise RuntimeError(f"{op} {method} {path}: {code} {str(data)[:300]}")
        took[op] = seconds
        return data

    created = call(
        "create",
        "POST",
        "/api/members",
        {
            "first_name": "Cycle",
            "last_name": "Member",
            "phone": phone,
            "email": "cycle@example.org",
            "tags": ["bench"],
        },
        201,
    )
    path = f"/api/members/{created['id']}"
    call("read", "GET", path, None, 200)
    page = call("list", "GET", "/api/members?page_size=20", None, 200)
    if len(page["results"]) != 20:
        raise RuntimeError(f"list: {len(page['results'])} results, not 20")
    call("update", "PATCH", path, {"last_name": "Updated", "notes": "n"}, 200)
    call("delete", "DELETE", path, None, 204)
    return took
