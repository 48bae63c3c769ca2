"""`python -m plainapp.tools migrate | seed N | count TOKEN` for bench/crud.py."""

import json
import os
import sys

import django


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "plainapp.settings"
    django.setup()
    command, *rest = sys.argv[1:]
    if command == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    elif command == "seed":
        seed(int(rest[0]))
    elif command == "count":
        print(json.dumps(count_queries(rest[0], int(rest[1]))))
    else:
        raise SystemExit(f"unknown command {command!r}")


def seed(count: int) -> None:
    import _crudmix

    from plainapp.models import Member, MemberTag

    members = [Member(**row) for row in _crudmix.seed_rows(count)]
    Member.objects.bulk_create(members)
    MemberTag.objects.bulk_create(
        [MemberTag(member=m, name="seeded") for m in members[::2]]
    )


def count_queries(token: str, repeats: int) -> dict[str, list[int]]:
    """SQL statements per operation of the CRUD cycle (in-process test client)."""
    import time

    import _crudmix
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"authorization": f"Bearer {token}"})
    counts: dict[str, list[int]] = {op: [] for op in _crudmix.OPS}
    current: list[int] = [0]

    def send(method, path, body):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.generic(
                method,
                path,
                json.dumps(body) if body is not None else "",
                content_type="application/json",
            )
        current[0] = len(queries)
        data = response.json() if response.content else None
        return response.status_code, data, time.perf_counter() - started

    for i in range(repeats):
        seen: dict[str, int] = {}

        def counting(method, path, body, seen=seen):
            result = send(method, path, body)
            op = {"POST": "create", "PATCH": "update", "DELETE": "delete"}.get(
                method, "list" if "?" in path else "read"
            )
            seen[op] = current[0]
            return result

        _crudmix.cycle(counting, _crudmix.cycle_phone(99, i))
        for op in _crudmix.OPS:
            counts[op].append(seen[op])
    return counts


if __name__ == "__main__":
    main()
