"""A whole church database as text: what a backup would hold."""

import os
import sqlite3
import subprocess

from tenants.servers import database_settings


def dump_text(tenant) -> str:
    config = database_settings(tenant, direct=True)
    if config["ENGINE"].endswith("sqlite3"):
        path = config["NAME"].removeprefix("file:").split("?")[0]
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            rows = "\n".join(conn.iterdump())
        # The file itself too: a backup copies its pages, free ones included.
        with open(path, "rb") as handle:
            return rows + handle.read().decode("latin-1")
    result = subprocess.run(
        [
            "pg_dump",
            "--host", config["HOST"], "--port", str(config["PORT"]),
            "--username", config["USER"], "--dbname", config["NAME"],
        ],
        capture_output=True, text=True, check=True, timeout=300,
        env={**os.environ, "PGPASSWORD": config["PASSWORD"] or ""},
    )  # fmt: skip
    return result.stdout
