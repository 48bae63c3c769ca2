"""A whole church database as text: what a backup would hold."""

import os
import sqlite3
import subprocess

from tenants.servers import database_settings


def dump_text(tenant) -> str:
    config = database_settings(tenant, direct=True)
    if config["ENGINE"].endswith("sqlite3"):
        with sqlite3.connect(config["NAME"]) as conn:
            conn.execute("VACUUM")  # a file copy would hold freed pages otherwise
            return "\n".join(conn.iterdump())
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
