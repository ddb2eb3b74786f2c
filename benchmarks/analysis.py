"""The full wave comparison on generated data, against DESIGN.md targets.

Generates N responses over three waves (baseline, reference, current) with 40 items in
10 constructs (1–5, one reverse-worded item each), 10 sectors, 3 places, 300
organisations and a 30% panel, plus each respondent's trust in all 10 sectors on the
three trust dimensions (with their organisation, for the disclosure rule). Then times, in one process, everything the evaluator pages and
a briefing need: all constructs compared (with baseline, composition adjustment,
panel pairs and Cronbach's alpha), the sector breakdown, every item's Brunner–Munzel
result, the trends across waves, and the trust network.

Peak memory is the process's peak resident size (ru_maxrss), so it includes the
generated data; the figure before the comparison is printed beside it.

    .venv/bin/python benchmarks/analysis.py                 # 100,000 and 1,000,000
    .venv/bin/python benchmarks/analysis.py --sizes 100000  # one size
    .venv/bin/python benchmarks/analysis.py --dry-run       # 3,000, in seconds

Each size runs in its own child process so peak memory is measured per size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.compare import compare, compare_by  # noqa: E402
from analysis.items import item_comparisons  # noqa: E402
from analysis.network import TRUST_SCALE_DIMENSIONS, trust_network  # noqa: E402
from analysis.scores import construct_scores  # noqa: E402
from analysis.trend import construct_trends  # noqa: E402

TARGETS = {100_000: (2.0, 1024), 1_000_000: (20.0, None)}  # seconds, MB
CONSTRUCTS, ITEMS_PER_CONSTRUCT, SECTORS = 10, 4, 10
WAVES = ("Baseline", "Wave 2", "Wave 3")
RUNS = 3
DRY_RUN_SIZE = 3_000


def generate(n: int, seed: int = 2026) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sectors = np.array([f"Sector {i + 1}" for i in range(SECTORS)])
    wave_codes = rng.integers(0, len(WAVES), n)
    sector_codes = rng.integers(0, SECTORS, n)
    organisation_codes = rng.integers(0, 300, n)
    organisations = [f"Org {i}" for i in range(300)]
    panel = rng.random(n) < 0.3
    responses = pd.DataFrame({
        "response_id": np.arange(n),
        "wave": pd.Categorical.from_codes(wave_codes, WAVES),
        "sector": pd.Categorical.from_codes(sector_codes, sectors),
        "place": pd.Categorical.from_codes(rng.integers(0, 3, n), ["North", "Middle", "South"]),
        "organisation": pd.Categorical.from_codes(organisation_codes, organisations),
        "panel_key": np.where(panel, (np.arange(n) % max(1, n // 6)).astype(str), None),
    })
    rows = []
    for c in range(CONSTRUCTS):
        latent = 3 + 0.2 * (wave_codes == 1) + 0.15 * (wave_codes == 2) + rng.normal(0, 0.7, n)
        for i in range(ITEMS_PER_CONSTRUCT):
            item = f"c{c}_{i}"
            reverse = i == ITEMS_PER_CONSTRUCT - 1
            value = np.clip(np.rint(latent + rng.normal(0, 0.6, n)), 1, 5)
            value = 6 - value if reverse else value
            value[rng.random(n) < 0.05] = np.nan  # 5% skipped
            responses[item] = value
            rows.append((item, f"construct_{c}", int(reverse), 1, 5))
    codebook = pd.DataFrame(rows, columns=["item", "construct", "reverse", "min", "max"])

    raters = np.repeat(np.arange(n), SECTORS * len(TRUST_SCALE_DIMENSIONS))
    targets = np.tile(np.repeat(np.arange(SECTORS), len(TRUST_SCALE_DIMENSIONS)), n)
    dimensions = np.tile(np.arange(len(TRUST_SCALE_DIMENSIONS)), n * SECTORS)
    trust = pd.DataFrame({
        "response_id": raters,
        "wave": pd.Categorical.from_codes(wave_codes[raters], WAVES),
        "sector": pd.Categorical.from_codes(sector_codes[raters], sectors),
        "target_sector": pd.Categorical.from_codes(targets, sectors),
        "dimension": pd.Categorical.from_codes(dimensions, TRUST_SCALE_DIMENSIONS),
        "value": rng.integers(1, 5, raters.size).astype(np.int8),
        "organisation": pd.Categorical.from_codes(organisation_codes[raters], organisations),
    })
    return responses, codebook, trust


def full_comparison(responses, codebook, trust) -> dict[str, float]:
    """What the results pages compute, in the same way: construct scores once, shared."""
    reference, current, baseline = WAVES[1], WAVES[2], WAVES[0]
    timings, done = {}, {}
    for name, step in (
        ("construct scores", lambda: construct_scores(responses, codebook)),
        ("constructs", lambda: compare(responses, codebook, reference, current, baseline, scores=done["construct scores"])),
        ("sector breakdown", lambda: compare_by(responses, codebook, "sector", reference, current,
                                                scores=done["construct scores"])),
        ("items", lambda: item_comparisons(responses, codebook, reference, current)),
        ("trends", lambda: construct_trends(responses, codebook, list(WAVES), scores=done["construct scores"])),
        ("trust network", lambda: trust_network(trust, list(WAVES), reference, current)),
    ):
        started = time.perf_counter()
        done[name] = step()
        timings[name] = time.perf_counter() - started
    return timings


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n: int) -> dict:
    """Three runs: this shared 2-core machine varies by ±15% from run to run, so the
    median is the figure and the slowest is printed beside it."""
    responses, codebook, trust = generate(n)
    before = peak_mb()
    runs = []
    for _ in range(RUNS):
        started = time.perf_counter()
        steps = full_comparison(responses, codebook, trust)
        runs.append((time.perf_counter() - started, steps))
    runs.sort(key=lambda run: run[0])
    seconds, steps = runs[len(runs) // 2]
    return {"n": n, "seconds": seconds, "slowest": runs[-1][0], "steps": steps, "peak_mb": peak_mb(), "data_mb": before}


def report(result: dict) -> None:
    n = result["n"]
    seconds_target, mb_target = TARGETS.get(n, (None, None))
    verdict = lambda value, target: "" if target is None else ("met" if value < target else "MISSED")  # noqa: E731
    print(f"\n{n:,} responses × {CONSTRUCTS * ITEMS_PER_CONSTRUCT} items × {SECTORS} sectors, {len(WAVES)} waves"
          f" (median of {RUNS} runs)")
    for step, seconds in result["steps"].items():
        print(f"  {step:<18}{seconds:8.2f} s")
    target = f"(target < {seconds_target:g} s) {verdict(result['seconds'], seconds_target)}" if seconds_target else ""
    print(f"  {'total (median)':<18}{result['seconds']:8.2f} s   {target}")
    print(f"  {'slowest of ' + str(RUNS):<18}{result['slowest']:8.2f} s")
    target = f"(target < {mb_target:,} MB) {verdict(result['peak_mb'], mb_target)}" if mb_target else "(no target)"
    print(f"  {'peak memory':<18}{result['peak_mb']:8.0f} MB  {target}; the generated data alone: {result['data_mb']:.0f} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dry-run", action="store_true", help=f"one size of {DRY_RUN_SIZE:,} responses")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size, JSON out
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    sizes = [DRY_RUN_SIZE] if args.dry_run else [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        child = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(child.stderr)
        report(json.loads(child.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
