"""The schemathesis fuzz test of every operation, with a long budget.

tests/api/test_fuzz.py (15 generated requests per operation in CI) with
`--examples` per operation (valid and invalid bodies, parameters and paths, with
a real token): whether any answer was a server error or broke the OpenAPI schema
(status code, content type and body). Every operation of /api/schema is fuzzed
but logout, password change and MFA setup (they would end the token's session).
"""

import os
import re
import subprocess
import sys
import time

from bench import harness, report


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    env = {"FUZZ_EXAMPLES": str(args.examples), "TEST_BACKENDS": args.backend}
    started = time.perf_counter()
    test = ["tests/run.py", "tests/api/test_fuzz.py", "-q", "-p", "no:randomly"]
    done = subprocess.run(
        [sys.executable, *test], cwd=harness.ROOT, env=os.environ | env,
        capture_output=True, text=True,
    )  # fmt: skip
    output = done.stdout + done.stderr
    print(output[-3000:])
    summary = re.findall(r"^=* ?(\d+ (?:passed|failed).*?) in [\d.]+s", output, re.M)
    failed = int(done.returncode != 0)
    results = {
        "pytest summary": summary[-1] if summary else "none printed",
        "run_s": round(time.perf_counter() - started),
        "failed": bool(failed),
    }
    targets = [
        report.target(
            "fuzzing the OpenAPI schema (schemathesis)",
            "0 server errors, 0 schema violations",
            f"{args.examples} examples per operation: "
            + ("failures found" if failed else "0 and 0"),
            (failed, "==", 0),
        )
    ]
    report.save("fuzz", args, results, targets, postgres=args.backend == "postgresql")
    sys.exit(failed)


if __name__ == "__main__":
    main()
