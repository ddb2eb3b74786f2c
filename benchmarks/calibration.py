"""The whole calibration grid: do the verdicts keep their promises on realistic data?

    .venv/bin/python benchmarks/calibration.py [--runs 1000] [--confirm 4] [--processes 2] [--markdown]
    .venv/bin/python benchmarks/calibration.py --dry-run   # 4 cells, 20 runs each, in seconds

For every cell (skew, items per construct, wave sizes, spread, panel overlap) it
simulates `runs` comparisons under no change and `runs` at a true fall of exactly the
margin (analysis.calibration), and prints the false "slipping" rate, the false
"holding" rate and the 90% interval's coverage beside their targets: each rate at most
α + 2.33 Monte-Carlo standard errors, coverage 88–92%; and the power to say "holding"
when nothing changed. The method column says which reference distribution the fixed
size rule chose; "no verdict" marks the cells where analysis.inference.verdict_possible
gives none (their figures are what the distribution would have given, and their power
is lost).

With 167 cells and three targets each, a few cells miss by chance alone even if every
rate were exactly right, so every cell that misses is run again, decided in advance:
`--confirm` times as many runs on fresh random numbers (seed 1), and that second run
decides. Both tables are printed. `tests/analysis/test_calibration.py` runs the worst
cells in `make test`; docs/statistics.md keeps the last full tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.calibration import GRID, CellResult, run_cell  # noqa: E402

DRY_RUN_CELLS, DRY_RUN_RUNS = 4, 20
HEADER = ("skew", "items", "n ref", "n cur", "spread", "overlap", "method", "false slipping", "false holding",
          "coverage", "power", "ok")


def _run(arguments) -> CellResult:
    cell, runs, seed = arguments
    return run_cell(cell, runs, seed=seed)


def _status(r: CellResult) -> str:
    if r.withheld:
        return "no verdict"
    return "yes" if r.calibrated else "no"


def _table(results: list[CellResult], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
    else:
        print(f"{'skew':<8}{'items':>6}{'n ref':>7}{'n cur':>7}{'spread':>7}{'overlap':>8}  {'method':<24}"
              f"{'slipping':>9}{'holding':>9}{'coverage':>9}{'power':>7}  ok")
    for r in results:
        c = r.cell
        status = _status(r)
        if markdown:
            values = (c.skew, c.items, c.n_reference, c.n_current, c.spread, c.overlap, r.method,
                      f"{r.false_slipping:.3f}", f"{r.false_holding:.3f}", f"{r.coverage:.3f}", f"{r.power:.3f}",
                      "**no**" if status == "no" else status)
            print("| " + " | ".join(str(v) for v in values) + " |")
        else:
            print(f"{c.skew:<8}{c.items:>6}{c.n_reference:>7}{c.n_current:>7}{c.spread:>7}{c.overlap:>8}  "
                  f"{r.method:<24}{r.false_slipping:>9.3f}{r.false_holding:>9.3f}{r.coverage:>9.3f}{r.power:>7.3f}"
                  f"  {'NO' if status == 'no' else status}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--confirm", type=int, default=4, help="runs again each cell that misses with this many "
                        "times the runs on fresh random numbers (0: no second run)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables for the docs")
    parser.add_argument("--dry-run", action="store_true",
                        help=f"the first {DRY_RUN_CELLS} cells, {DRY_RUN_RUNS} runs each, each miss run again once")
    options = parser.parse_args(argv)
    grid = GRID[:DRY_RUN_CELLS] if options.dry_run else GRID
    if options.dry_run:
        options.runs, options.confirm = DRY_RUN_RUNS, 1
    started = time.perf_counter()
    with ProcessPoolExecutor(options.processes) as pool:
        results = list(pool.map(_run, [(cell, options.runs, 0) for cell in grid]))
        first = time.perf_counter() - started
        missed = [r for r in results if not r.ok]
        again = list(pool.map(_run, [(r.cell, options.confirm * options.runs, 1) for r in missed])) \
            if options.confirm and missed else []
    withheld = [r for r in results if r.withheld]
    print(f"{len(results)} cells, {options.runs} runs each under no change and at the margin; "
          f"target: rates ≤ {results[0].bound:.3f}, coverage 0.88–0.92 ({first:.0f} s)")
    _table(results, options.markdown)
    print(f"\n{sum(r.calibrated and not r.withheld for r in results)} cells calibrated, {len(withheld)} give no "
          f"verdict by the rule on sizes and questions (their reference distribution would have missed in "
          f"{sum(not r.calibrated for r in withheld)}), {len(missed)} missed.")
    failures = len(missed)
    if again:
        print(f"\nThe {len(again)} cells that missed, run again with {options.confirm * options.runs} runs on fresh "
              f"random numbers (target: rates ≤ {again[0].bound:.3f}, coverage 0.88–0.92; "
              f"{time.perf_counter() - started - first:.0f} s):\n")
        _table(again, options.markdown)
        failures = sum(not r.ok for r in again)
    print(f"\n{len(results) - failures} of {len(results)} cells keep their promises "
          f"({len(withheld)} of them by giving no verdict); {failures} do not.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
