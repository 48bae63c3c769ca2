"""The schemathesis fuzz test of every operation, with a long budget.

    .venv/bin/python bench/fuzz.py [--examples 500] [--backend sqlite|postgresql]

CI runs tests/api/test_fuzz.py with 15 generated requests per operation; this
runs the same test with many more (valid and invalid bodies, parameters and
paths, with a real token) and records whether any answer was a server error or
broke the OpenAPI schema.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    env = {
        **os.environ,
        "FUZZ_EXAMPLES": str(args.examples),
        "TEST_BACKENDS": args.backend,
    }
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "tests/run.py",
            "tests/api/test_fuzz.py",
            "-q",
            "-p",
            "no:randomly",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    output = result.stdout + result.stderr
    summary = re.findall(r"^=+ (.*) in [\d.]+s.*=+$", output, re.M)
    passed = result.returncode == 0
    print(output[-3000:])
    verdict = "met" if passed else "not met"
    body = "\n".join(
        [
            f"`tests/api/test_fuzz.py` with {args.examples} generated requests per "
            f"operation on {args.backend}: {summary[-1] if summary else 'no summary'} "
            f"({took:.0f} s). Checks: not a server error; status code, content "
            "type and body conform to /api/schema.",
            "",
            "Result: "
            + (
                "no server error, no schema violation."
                if passed
                else "FAILED; see the failure printed by the run."
            ),
        ]
    )
    if not args.no_report:
        _report.write_section(
            "fuzz",
            title="Fuzzing the OpenAPI schema (`bench/fuzz.py`)",
            pg_version="n/a" if args.backend == "sqlite" else "see the other sections",
            config=[
                f"{args.examples} examples per operation, backend {args.backend}",
                "every operation of /api/schema except logout, password change "
                "and MFA setup (they would end the fuzzing token's own session)",
            ],
            body=body,
            verdicts=[
                _report.Verdict(
                    target="fuzzing the OpenAPI schema (schemathesis)",
                    spec="0 server errors, 0 schema violations",
                    measured=f"{args.examples} examples per operation: "
                    + ("0 and 0" if passed else "failures found"),
                    verdict=verdict,
                )
            ],
        )
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
