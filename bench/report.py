"""Results as JSON, and docs/benchmarks.md rendered from them.

    python -m bench.report [--results docs/benchmarks] [--doc docs/benchmarks.md]

Each benchmark writes `NAME.json` with `save()`: its command, date, commit and
machine, configuration, results and targets. A result is a table (a list of
records, or one record as `what | value`), a code block (text over several
lines) or a single value; a key's suffix names its unit (`_ms`, `_s`, ...). A
target's checks are `[value, operator, limit]`: "not met" when one fails, else
"not measured" when a value is null, else "met"; "reported" without checks.
The document is `bench/intro.md`, the summary of all targets, then one section
per result file, each opening with its benchmark's docstring.
"""

import argparse
import importlib
import json
import operator
import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import RESULTS, ROOT, pg_value

ORDER = [
    "provisioning", "auth", "connections", "migrations", "scale-sqlite",
    "scale-postgres", "crud", "crud-affinity", "crud-cluster", "crud-cluster-affinity",
    "crud-pgbouncer", "members",
    "messaging", "planning_center", "history", "fuzz", "load", "load-pgbouncer",
]  # fmt: skip
UNITS = {
    "_per_s": "/s", "_ms": " ms", "_s": " s", "_pct": "%", "_x": "x",
    "_mib": " MiB", "_mb": " MB", "_kb": " KB",
}  # fmt: skip
DOC = ROOT / "docs" / "benchmarks.md"
CHECKS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, "==": operator.eq}


def _output(*argv: str) -> str:
    try:
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip()


def run_facts(postgres: bool = True) -> dict[str, Any]:
    """Where and on what the numbers were measured, and how to measure them again."""
    import django
    import psycopg

    module = sys.modules["__main__"].__spec__.name
    status = _output("git", "status", "--porcelain", "-uno").splitlines()
    # Not counted: what the benchmarks write themselves.
    changed = [line for line in status if "docs/benchmarks" not in line]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "command": shlex.join(["python", "-m", module, *sys.argv[1:]]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _output("git", "rev-parse", "--short", "HEAD")
        + (f" plus uncommitted changes in {len(changed)} files" if changed else ""),
        "machine": f"{_output('uname', '-srm')}, {_output('nproc')} CPUs, "
        f"{memory:.1f} GiB",
        "PostgreSQL": postgres and pg_value("SELECT version()").split(" (")[0] or "n/a",
        "software": f"Python {platform.python_version()}, Django "
        f"{django.get_version()}, psycopg {psycopg.__version__}",
    }


def target(
    target: str, spec: str, measured: str, *checks: Any, note: str = ""
) -> dict[str, Any]:
    """One spec target: `checks` are (value, operator, limit) triples."""
    return {"target": target, "spec": spec, "measured": measured,
            "checks": [list(c) for c in checks], "note": note}  # fmt: skip


def save(
    name: str, args: argparse.Namespace, results: dict[str, Any],
    targets: list[dict[str, Any]], *, config: dict[str, Any] | None = None,
    postgres: bool = True, **extra: Any,
) -> None:  # fmt: skip
    """Write NAME.json into `args.out` and print its section."""
    data = {
        "bench": name,
        "module": sys.modules["__main__"].__spec__.name,
        "run": run_facts(postgres),
        "config": {k: v for k, v in vars(args).items() if k != "out"} | (config or {}),
        "results": results,
        "targets": targets,
        **extra,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print(section(data))
    print(f"wrote {path}")


def verdict(item: dict[str, Any]) -> str:
    checks = item.get("checks") or []
    measured = [(value, op, limit) for value, op, limit in checks if value is not None]
    if not checks:
        word = "reported"
    elif not all(CHECKS[op](value, limit) for value, op, limit in measured):
        word = "not met"
    else:
        word = "met" if len(measured) == len(checks) else "not measured"
    return f"{word} ({item['note']})" if item.get("note") else word


def split_unit(key: str) -> tuple[str, str]:
    for suffix, unit in UNITS.items():
        if key.endswith(suffix):
            return key.removesuffix(suffix), unit
    return key, ""


def cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value) or "-"
    return f"{value}{unit}".replace("|", "\\|").replace("\n", " ")


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, its columns aligned (readable as plain text too)."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: B905

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def result(title: str, value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        keys = list(dict.fromkeys(k for item in value for k in item))
        rows = [[cell(item.get(k), split_unit(k)[1]) for k in keys] for item in value]
        body = table([split_unit(k)[0] for k in keys], rows)
    elif isinstance(value, dict):
        units = {k: split_unit(k) for k in value}
        rows = [[units[k][0], cell(v, units[k][1])] for k, v in value.items()]
        body = table(["what", "value"], rows)
    elif isinstance(value, str) and "\n" in value:
        body = f"```\n{value.strip()}\n```"
    else:
        name, unit = split_unit(title)
        return f"{name}: {cell(value, unit)}\n"
    return f"### {title}\n\n{body}\n"


def targets_table(items: list[dict[str, Any]], bench: bool = False) -> str:
    """The targets with their verdicts (and the bench of each, in the summary)."""
    headers = ["target", "spec", "measured", "verdict"] + (["bench"] if bench else [])
    rows = [
        [cell(t["target"]), cell(t["spec"]), cell(t["measured"]), verdict(t)]
        + ([f"[{t['bench']}](#{t['bench']})"] if bench else [])
        for t in items
    ]
    return table(headers, rows)


def section(data: dict[str, Any], results: Path | None = None, doc: Path = DOC) -> str:
    doc_string = importlib.import_module(data["module"]).__doc__ or data["bench"]
    title, _, about = doc_string.strip().partition("\n")
    facts = [f"- {k}: `{v}`" if k == "command" else f"- {k}: {v}"
             for k, v in data["run"].items()]  # fmt: skip
    config = [f"- {k}:" + "".join(f"\n  - {x}" for x in v) if isinstance(v, list)
              else f"- {k}: {cell(v)}" for k, v in data["config"].items()]  # fmt: skip
    parts = [
        f'<a id="{data["bench"]}"></a>\n## {title.rstrip(".")} ({data["bench"]})',
        about,
        "\n".join(facts),
        "Configuration:\n\n" + "\n".join(config),
        *(result(title, value) for title, value in data["results"].items()),
    ]
    if image := data.get("image"):  # relative to the result file
        if results is not None:
            image = os.path.relpath(results / image, doc.parent)
        parts.append(f"![{data['bench']}]({image})")
    if data["targets"]:
        parts.append("### targets\n\n" + targets_table(data["targets"]))
    return "\n\n".join(p.strip() for p in parts if p) + "\n"


def render(results: Path, doc: Path = DOC) -> str:
    found = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    every = [t | {"bench": n} for n in names for t in found[n]["targets"]]
    summary = targets_table(every, bench=True)
    intro = (Path(__file__).parent / "intro.md").read_text().strip()
    sections = "\n".join(section(found[n], results, doc) for n in names)
    return f"{intro}\n\n## Spec targets\n\n{summary}\n\n{sections}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args()
    args.doc.write_text(render(args.results, args.doc))
    print(f"wrote {args.doc} from {args.results}/*.json")


if __name__ == "__main__":
    main()
