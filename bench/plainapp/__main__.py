"""`python -m bench.plainapp migrate | seed N | count TOKEN REPEATS`."""

import json
import os
import sys

import django


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.plainapp.settings"
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.cycle import count_sql, seed_rows
    from bench.plainapp.models import seed
    from bench.product import search_indexes

    command, *rest = sys.argv[1:]
    if command == "migrate":
        call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
        with connection.schema_editor() as editor:  # the real trigram indexes
            search_indexes(None, editor)
    elif command == "seed":
        seed(seed_rows(int(rest[0])))
    elif command == "count":
        counts = count_sql(rest[0], ["default"], int(rest[1]), space=99)
        print(json.dumps({op: [c[0] for c in seen] for op, seen in counts.items()}))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
