"""Writing one benchmark's results into docs/benchmarks.md.

Each script owns the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`
and replaces only that; the summary of targets at the top is rebuilt from the
verdicts each section records (as JSON in an HTML comment), so rerunning one
benchmark keeps the others' results and the summary consistent.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
ORDER = ["provisioning", "connections", "migrations"]
SECTION = re.compile(
    r"<!-- bench:(?P<name>[\w-]+) -->\n.*?<!-- /bench:(?P=name) -->\n", re.DOTALL
)
VERDICTS = re.compile(r"<!-- verdicts: (?P<json>\[.*?\]) -->")

HEADER = """\
# Benchmarks

Numbers measured by the scripts in `bench/`, each against a real PostgreSQL
server on loopback. Every script creates its own registry database and its own
tenant database prefix, runs `manage.py bootstrap`, measures, and drops
everything it created (tenant databases and roles, the template and its owner
role, the registry database), also when it fails. Each section between
`<!-- bench:NAME -->` markers is rewritten by its script with the machine, the
date, the exact command, the configuration and the results of its last run; the
summary table is rebuilt from those sections; text outside the markers (this
header) is kept.

The machines are shared and noisy (2 cores; other test runs may use the same
PostgreSQL server at the same time), so each figure is a median (with p95) over
repeated runs, and comparisons are ratios measured within one run.

Rerun (PostgreSQL at 127.0.0.1:5432, user `postgres`, trust authentication):

```
.venv/bin/python bench/provisioning.py    # --count 30
.venv/bin/python bench/connections.py     # --tenants 1000 --threads 4 --lru 20
.venv/bin/python bench/migrations.py      # --tenants 1000 --migrate-count 200 --lru 10
```

`--help` lists each script's options; `--no-report` leaves this file alone.
The 1,000-tenant runs take several minutes, mostly to create and drop the
databases (about 8 MB each; check `df -h` first).
"""


@dataclass
class Verdict:
    """One spec target (docs/spec targets.md) as measured by one benchmark."""

    target: str
    spec: str
    measured: str
    verdict: str  # "met", "not met", or "not measured (...)"


def _run(*args: str) -> str:
    try:
        return subprocess.run(
            args, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine(pg_version: str) -> list[str]:
    """Lines describing where the numbers come from."""
    import django
    import psycopg

    return [
        f"- machine: `{_run('uname', '-a')}`",
        f"- CPUs: {_run('nproc')} (nproc); memory: {_memory()}",
        f"- PostgreSQL: {pg_version}",
        f"- Python {platform.python_version()}, Django {django.get_version()}, "
        f"psycopg {psycopg.__version__}",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
    ]


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def command() -> str:
    """The command line that ran this script, relative to the project root."""
    exe = Path(sys.executable)
    try:
        exe_text = str(exe.relative_to(ROOT))
    except ValueError:
        exe_text = str(exe)
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(ROOT))
    except ValueError:
        script_text = str(script)
    return shlex.join([exe_text, script_text, *sys.argv[1:]])


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table (also readable as plain text on the terminal)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(headers)
    ]
    aligned = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in [headers, *cells]
    ]
    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([aligned[0], rule, *aligned[1:]])


def write_section(
    name: str,
    *,
    title: str,
    pg_version: str,
    config: list[str],
    body: str,
    verdicts: list[Verdict],
) -> None:
    """Replace (or add) this benchmark's section and rebuild the summary."""
    lines = [
        f"<!-- bench:{name} -->",
        f"## {title}",
        "",
        f"Command: `{command()}`",
        "",
        *machine(pg_version),
        "",
        "Configuration:",
        "",
        *(f"- {item}" for item in config),
        "",
        body.strip(),
        "",
    ]
    if verdicts:
        lines += [
            "Targets:",
            "",
            table(
                ["target", "spec", "measured", "verdict"],
                [[v.target, v.spec, v.measured, v.verdict] for v in verdicts],
            ),
            "",
            f"<!-- verdicts: {json.dumps([asdict(v) for v in verdicts])} -->",
        ]
    lines.append(f"<!-- /bench:{name} -->")
    section = "\n".join(lines) + "\n"

    DOC.parent.mkdir(parents=True, exist_ok=True)
    with open(DOC, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two benchmarks may finish together
        handle.seek(0)
        text = handle.read()
        sections = {m["name"]: m.group(0) for m in SECTION.finditer(text)}
        first = SECTION.search(text)
        header = text[: first.start()] if first else text
        if not header.strip():
            header = HEADER
        sections.pop("summary", None)
        sections[name] = section
        ordered = [sections[n] for n in ORDER if n in sections]
        ordered += [s for n, s in sections.items() if n not in ORDER]
        out = header.rstrip("\n") + "\n\n" + _summary(ordered)
        out += "".join("\n" + s for s in ordered)
        handle.seek(0)
        handle.truncate()
        handle.write(out)
        handle.flush()
        os.fsync(handle.fileno())


def _summary(sections: list[str]) -> str:
    rows: list[list[object]] = []
    for section in sections:
        bench = SECTION.match(section)["name"]
        found = VERDICTS.search(section)
        for item in json.loads(found["json"]) if found else []:
            rows.append(
                [item["target"], item["spec"], item["measured"], item["verdict"], bench]
            )
    body = (
        table(["target (targets.md)", "spec", "measured", "verdict", "bench"], rows)
        if rows
        else "(no benchmark has run yet)"
    )
    return (
        "<!-- bench:summary -->\n"
        "## Spec targets covered here\n\n"
        "Rebuilt from the sections below each time a benchmark writes its own.\n\n"
        f"{body}\n"
        "<!-- /bench:summary -->\n"
    )
