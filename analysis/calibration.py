"""Do the verdicts keep their promises on the data partnerships really have?

Simulates two waves of 5-point agreement answers (ceiling- or floor-heavy, constructs of
1–4 correlated items, unequal spreads, small, unbalanced and moderately unbalanced waves
(60 vs 20 both ways), panels answering both waves) with a known true difference, runs
the same `analysis.inference.estimate` the pages use, and counts how often each promise
is broken:

- no true change: a false "slipping" (upper 95% one-sided bound below 0) at most α;
- a true fall of exactly the margin: "holding" (lower bound above −margin) at most α;
- the 90% interval covers the true difference about 90% of the time;
- and, as the price of those promises, the power to say "holding" when nothing changed
  (lower bound above −margin).

Where `analysis.inference.verdict_possible` gives no verdict (a construct of one or two
questions with a wave under 30), the cell is marked `withheld`: the tool makes no
promise there, and the figures shown are what the reference distribution would have
given had it been allowed a verdict (the evidence for the rule), with no power left.

Pure and seeded: `tests/analysis/test_calibration.py` runs the worst cells,
`benchmarks/calibration.py` the whole grid (its table is in docs/statistics.md).

Answers come from a latent-variable model: each respondent has a normal latent trait,
each item is that trait (loading 0.7, so items correlate about 0.5) plus noise, cut at
thresholds that give the chosen category probabilities. A wave's true mean is then
exact (from the normal CDF), so "a fall of exactly the margin" is exact too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from analysis.inference import Waves, estimate, verdict_possible

SKEWS = {
    "ceiling": (0.02, 0.04, 0.10, 0.34, 0.50),
    "floor": (0.50, 0.34, 0.10, 0.04, 0.02),
    "middle": (0.10, 0.20, 0.35, 0.25, 0.10),
}
LOADING = 0.7
ALPHA = 0.05
MARGIN = 0.25


@dataclass(frozen=True)
class Cell:
    skew: str
    items: int
    n_reference: int
    n_current: int
    spread: float = 1.0  # the current wave's latent SD relative to the reference's
    overlap: float = 0.0  # share of the smaller wave that also answered the other
    rho: float = 0.7  # correlation of a panel member's latent trait across waves


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    runs: int
    false_slipping: float  # under no change
    false_holding: float  # at a true fall of exactly the margin
    coverage: float  # of the 90% interval, under no change and at the margin
    method: str
    power: float = 0.0  # "holding" under no change, had a verdict been allowed
    seed: int = 0

    @property
    def withheld(self) -> bool:
        """The fixed rule on sizes and questions gives no verdict in this cell."""
        c = self.cell
        return not verdict_possible(c.n_reference, c.n_current, c.items)

    @property
    def bound(self) -> float:
        """α plus 2.33 Monte-Carlo standard errors: a rate above it breaks the promise."""
        return ALPHA + 2.33 * np.sqrt(ALPHA * (1 - ALPHA) / self.runs)

    @property
    def calibrated(self) -> bool:
        """The reference distribution's own figures meet every target."""
        return self.false_slipping <= self.bound and self.false_holding <= self.bound and 0.88 <= self.coverage <= 0.92

    @property
    def ok(self) -> bool:
        """The tool keeps its promises here: calibrated, or no verdict at all."""
        return self.withheld or self.calibrated


def _thresholds(skew: str) -> np.ndarray:
    return stats.norm.ppf(np.cumsum(SKEWS[skew])[:-1])


def true_mean(skew: str, shift: float, spread: float) -> float:
    """Exact mean of an item (and so of a construct) when the latent trait is N(shift, spread²)."""
    below = stats.norm.cdf((_thresholds(skew) - shift) / spread)  # P(answer ≤ j), j = 1..4
    return float(5 - below.sum())


def shift_for(skew: str, difference: float, spread: float) -> float:
    """The latent shift that moves the true mean by exactly `difference`."""
    target = true_mean(skew, 0.0, 1.0) + difference
    return float(optimize.brentq(lambda s: true_mean(skew, s, spread) - target, -5, 5, xtol=1e-12))


def simulate(rng, cell: Cell, difference: float) -> Waves:
    shift = shift_for(cell.skew, difference, cell.spread)
    pairs = int(round(cell.overlap * min(cell.n_reference, cell.n_current)))
    trait_r = rng.standard_normal(cell.n_reference)
    trait_c = rng.standard_normal(cell.n_current)
    if pairs:  # the first `pairs` of each wave are the same people
        trait_c[:pairs] = cell.rho * trait_r[:pairs] + np.sqrt(1 - cell.rho**2) * trait_c[:pairs]
    reference = _answers(rng, trait_r, cell.items, cell.skew, 0.0, 1.0)
    current = _answers(rng, trait_c, cell.items, cell.skew, shift, cell.spread)
    return Waves(reference[pairs:], current[pairs:], np.column_stack([reference[:pairs], current[:pairs]]))


def _answers(rng, latent, items, skew, shift, spread) -> np.ndarray:
    """Construct scores: the mean of `items` answers, each cut from the trait plus item
    noise (unit variance before `spread` scales it, so thresholds give SKEWS exactly)."""
    noise = rng.standard_normal((len(latent), items)) * np.sqrt(1 - LOADING**2)
    item_latent = shift + spread * (LOADING * latent[:, None] + noise)
    return (1 + np.searchsorted(_thresholds(skew), item_latent)).mean(axis=1)


def run_cell(cell: Cell, runs: int, seed: int = 0, resample: bool | None = None) -> CellResult:
    """The cell's rates over `runs` simulations at no change and `runs` at the margin.
    The estimate is asked without the number of questions, so a cell the rule withholds
    still shows what its reference distribution would have done (`CellResult.withheld`
    says the tool gives no verdict there)."""
    rng = np.random.default_rng([seed, list(SKEWS).index(cell.skew), cell.items, cell.n_reference,
                                 cell.n_current, int(cell.spread * 100), int(cell.overlap * 100)])
    slipping = holding = covered = power = 0
    method = ""
    for _ in range(runs):
        for difference in (0.0, -MARGIN):
            result = estimate(simulate(rng, cell, difference), resample=resample)
            method = result.method
            if not result.estimable:
                covered += 1  # no interval: counted as covering, never as a verdict
                continue
            low, high = result.interval(ALPHA)
            covered += low <= difference <= high
            if difference == 0.0:
                slipping += high < 0
                power += low > -MARGIN
            else:
                holding += low > -MARGIN
    return CellResult(cell, runs, slipping / runs, holding / runs, covered / (2 * runs), method, power / runs, seed)


GRID = tuple(
    Cell(skew, items, n_r, n_c, spread, overlap)
    for skew in ("ceiling", "floor")
    for items in (1, 2, 3, 4)
    for n_r, n_c in ((10, 10), (12, 300), (300, 12), (30, 30), (30, 300), (300, 30), (60, 60), (100, 100),
                     (200, 40), (1000, 1000), (1000, 12), (60, 20), (20, 60))
    for spread in (1.0, 1.5)
    for overlap in (0.0,)
) + tuple(
    Cell("ceiling", 3, n, n, 1.0, overlap) for n in (30, 200) for overlap in (0.5, 0.9)
) + tuple(
    Cell("middle", 3, n, n, 1.0, overlap) for n in (200,) for overlap in (0.0, 0.5, 0.9)
)
