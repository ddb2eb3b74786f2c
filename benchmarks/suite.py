"""How long each tier of the test suite takes, beside its target, and its slowest 20 tests.

Tiers (each a command a person or CI runs):

- check: `make check` (lint and every test not marked slow or e2e, on SQLite): under 3 minutes;
- sqlite: `make test` without PostgreSQL or Redis: under 12 minutes;
- full: `make test` with TEST_DATABASE_URL and TEST_REDIS_URL set, as `.ci/run` runs it:
  under 20 minutes (the whole of .ci/run on a fresh clone, installs included).

    .venv/bin/python benchmarks/suite.py                       # check and sqlite
    .venv/bin/python benchmarks/suite.py --tier full \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/15

The targets are for a quiet 2-core machine; on a busy one the wall-clock times say little,
so the CPU time each tier used is printed too (divided by the cores, about what a quiet
machine would take, PostgreSQL's own work aside). Each tier
runs from the Makefile as it is, so dependencies are installed first if they are missing
(run `make deps test-deps` once beforehand to leave that out of the times).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"check": 3 * 60, "sqlite": 12 * 60, "full": 20 * 60}
TIERS = {"check": "check", "sqlite": "test", "full": "test"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_tier(tier: str, postgres: str | None, redis: str | None) -> tuple[float, float, str, int]:
    """Wall-clock and CPU seconds (of the tier's processes, PostgreSQL's own excepted), output, exit code."""
    env = {key: value for key, value in os.environ.items() if key not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}
    if tier == "full":
        env |= {"TEST_DATABASE_URL": postgres, "TEST_REDIS_URL": redis}
    started, cpu = time.monotonic(), children_cpu()
    done = subprocess.run(["make", TIERS[tier], "PYTEST_ARGS=--durations=20"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    return time.monotonic() - started, children_cpu() - cpu, done.stdout + done.stderr, done.returncode


def slowest(output: str) -> list[str]:
    """The lines of pytest's "slowest 20 durations" section."""
    section = re.search(r"=+ slowest 20 durations =+\n(.*?)\n(?:\n|=)", output, re.S)
    return section.group(1).splitlines() if section else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", choices=[*TARGETS, "all"], action="append",
                        help="which tier to time (repeatable; default: check and sqlite)")
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"),
                        help="TEST_DATABASE_URL for the full tier")
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"), help="TEST_REDIS_URL for the full tier")
    args = parser.parse_args(argv)
    tiers = list(TARGETS) if "all" in (args.tier or []) else args.tier or ["check", "sqlite"]
    if "full" in tiers and not (args.postgres and args.redis):
        parser.error("the full tier needs --postgres and --redis (or TEST_DATABASE_URL and TEST_REDIS_URL)")

    failed = False
    summary = []
    for tier in tiers:
        seconds, cpu, output, code = run_tier(tier, args.postgres, args.redis)
        counts = re.findall(r"^=* ?(\d+ passed.*?)(?: =*)?$", output, re.M)
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        failed |= code != 0
        # CPU time over the cores says what a quiet machine would take when this one is busy.
        line = (f"{tier:<7} {seconds / 60:5.1f} min  target {TARGETS[tier] / 60:.0f} min  "
                f"{'within' if seconds <= TARGETS[tier] else 'OVER'}  "
                f"(CPU {cpu / 60:.1f} min, {cpu / 60 / os.cpu_count():.1f} min a core)  {status}  "
                f"{counts[-1] if counts else ''}")
        summary.append(line)
        print(line, flush=True)
        for extra in re.findall(r"^holdfast: .*$", output, re.M):
            print(f"        {extra}")
        print("        slowest 20 tests:")
        for test in slowest(output):
            print(f"          {test}")
        if code != 0:
            print(output[-3000:], file=sys.stderr)
    print("\n" + "\n".join(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
