"""Start-up of the `holdfast compare` console script, against the floor of importing what
the comparison itself needs (`python -c "import pandas, scipy.stats"`).

Times, as the median of 5 runs, each in a fresh process (after one untimed warm-up run;
the commands take turns, so a busy moment on the machine falls on all of them alike):
the floor, `holdfast compare --help`, a full `holdfast compare` (table, and JSON with the
sector breakdown) on a generated two-wave CSV of 500 responses, and, for comparison,
`flask --app app compare --help`, which loads the whole web app. Prints each beside the
floor with the ratio, and the web-app modules the command imported (there should be none).

    .venv/bin/python benchmarks/cli_startup.py
    .venv/bin/python benchmarks/cli_startup.py --dry-run   # one run of each, no warm-up

Needs no instance/config.py: the flask timing is given a throwaway SECRET_KEY (and a
temporary CACHE_DIR, so nothing is written to instance/).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WEB_MODULES = ("flask", "werkzeug", "sqlalchemy", "alembic", "matplotlib", "weasyprint", "app", "core", "surveys")


def generate(folder: Path, n: int = 500, seed: int = 2026) -> None:
    """Two waves, n responses in all, 5 sectors, 5 constructs of 4 items (1–5, one reversed)."""
    rng = np.random.default_rng(seed)
    wave = np.where(np.arange(n) < n // 2, "Wave 1", "Wave 2")
    responses = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(n)],
        "wave": wave,
        "sector": rng.choice(["Charity", "Council", "Health", "Funder", "Community"], n),
    })
    rows = []
    for c in range(5):
        latent = 3 + 0.15 * (wave == "Wave 2") + rng.normal(0, 0.7, n)
        for i in range(4):
            value = np.clip(np.rint(latent + rng.normal(0, 0.6, n)), 1, 5)
            reverse = i == 3
            value = 6 - value if reverse else value
            value[rng.random(n) < 0.05] = np.nan
            responses[f"c{c}_{i}"] = value
            rows.append((f"c{c}_{i}", f"construct_{c}", int(reverse), 1, 5))
    responses.to_csv(folder / "responses.csv", index=False)
    pd.DataFrame(rows, columns=["item", "construct", "reverse", "min", "max"]).to_csv(folder / "codebook.csv", index=False)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def once(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process running `command`."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return elapsed, cpu


def timed(cases: list[tuple], runs: int, warm_up: bool = True) -> list[tuple[float, float]]:
    """Median wall and CPU time of each case over `runs` fresh processes, after one untimed
    warm-up each. The cases take turns (round-robin), so a busy moment on the machine
    falls on all of them alike rather than on one; CPU time is the steadier figure on a
    shared machine."""
    for _, command, cwd, env in cases if warm_up else []:
        once(command, cwd, env)
    times: list[list[tuple[float, float]]] = [[] for _ in cases]
    for run in range(runs):
        for index, (_, command, cwd, env) in enumerate(cases):
            times[index].append(once(command, cwd, env))
        print(f"  run {run + 1} of {runs} done", file=sys.stderr)
    return [(statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for t in times]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dry-run", action="store_true", help="one run of each, no warm-up")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.runs = 1

    holdfast = BIN / "holdfast"
    if holdfast.exists():
        cli = [str(holdfast)]
    else:
        print(f"({holdfast} is not installed: `make deps` installs it; timing `python -m analysis.cli` instead)")
        cli = [sys.executable, "-m", "analysis.cli"]
    # The console script runs without any of the web app's settings.
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PANEL_SECRET", "DATABASE_URL", "FLASK_APP"}}
    env["PYTHONPATH"] = str(ROOT)  # also works before the project is installed into the venv

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # The web app, for comparison only: a throwaway secret, and its cache outside instance/.
        flask_env = {**env, "SECRET_KEY": "benchmark-only-not-a-secret", "CACHE_DIR": str(folder / "cache")}
        generate(folder)
        files = ["responses.csv", "--codebook", "codebook.csv", "--reference", "Wave 1", "--current", "Wave 2"]
        cases = [
            ('python -c "import pandas, scipy.stats"', [sys.executable, "-c", "import pandas, scipy.stats"], folder, env),
            ("holdfast compare --help", [*cli, "compare", "--help"], folder, env),
            ("holdfast compare (500 responses, table)", [*cli, "compare", *files], folder, env),
            ("holdfast compare (… --by sector --format json)",
             [*cli, "compare", *files, "--by", "sector", "--format", "json"], folder, env),
            ("flask --app app compare --help", [str(BIN / "flask"), "--app", "app", "compare", "--help"], ROOT, flask_env),
        ]
        check = ("import sys, analysis.cli; analysis.cli.main(['compare', *sys.argv[1:]], standalone_mode=False); "
                 f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({WEB_MODULES!r})), file=sys.stderr)")
        loaded = subprocess.run([sys.executable, "-c", check, *files], cwd=folder, env=env,
                                capture_output=True, text=True).stderr.strip().splitlines()[-1]

        results = list(zip((case[0] for case in cases), timed(cases, args.runs, warm_up=not args.dry_run)))

    floor_wall, floor_cpu = results[0][1]
    print(f"\nStart-up, median of {args.runs} fresh processes ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f})\n")
    print(f"{'command':<50}{'wall s':>8}{'× floor':>9}{'CPU s':>8}{'× floor':>9}")
    for name, (wall, cpu) in results:
        print(f"{name:<50}{wall:>8.3f}{wall / floor_wall:>9.2f}{cpu:>8.3f}{cpu / floor_cpu:>9.2f}")
    print(f"\nWeb-app modules imported by a full `holdfast compare`: {loaded if loaded != '[]' else 'none'}")


if __name__ == "__main__":
    main()
