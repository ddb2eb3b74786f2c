"""The verdicts keep their promises on the data partnerships really have: the worst
cells of the calibration grid (benchmarks/calibration.py runs it all; the table is in
docs/statistics.md). Seeded, so repeatable; each rate must stay within α plus 2.33
Monte-Carlo standard errors, and 90% intervals must cover 88–92% of the time.

With eight cells and three targets each, a cell whose rates are exactly right still
misses one now and then by chance (about one seed in four misses somewhere), so the
rule is the benchmark's, decided in advance: a cell that misses is run again on fresh
random numbers with CONFIRM times the runs, and that run decides."""

import numpy as np
import pandas as pd
import pytest

from analysis.calibration import MARGIN, Cell, run_cell, simulate
from analysis.compare import compare, judge
from analysis.inference import FEW_ITEMS_MIN_WAVE, NO_VERDICT, Waves, estimate

RUNS = 600
CONFIRM = 3

WORST_CELLS = [
    Cell("ceiling", 3, 12, 300),  # Welch: false slipping 7.6%
    Cell("floor", 3, 300, 12, spread=1.5),  # the plain permutation-t: false slipping 7%
    # The plain permutation-t could not see that the waves differ in shape:
    Cell("floor", 3, 60, 20, spread=1.5),  # false slipping 6-7%
    Cell("ceiling", 1, 60, 60, spread=1.5),  # false holding 6.5%
    Cell("floor", 3, 60, 60, spread=1.5),  # false slipping 6.5%
    Cell("floor", 4, 10, 10, spread=1.5),  # false slipping 6.8%; the skew-corrected one's worst, about 5.6%
    Cell("ceiling", 3, 200, 200, overlap=0.9),  # a panel: Welch covers 99%
    Cell("ceiling", 3, 200, 200, overlap=0.5),
]


@pytest.mark.slow
@pytest.mark.parametrize("cell", WORST_CELLS, ids=lambda c: f"{c.skew}-{c.items}items-{c.n_reference}v{c.n_current}"
                         f"-spread{c.spread}-overlap{c.overlap}")
def test_no_false_slipping_or_holding_beyond_alpha_and_intervals_cover_ninety_percent(cell):
    result = run_cell(cell, RUNS)
    if not result.calibrated:
        result = run_cell(cell, CONFIRM * RUNS, seed=1)
    assert result.false_slipping <= result.bound, result
    assert result.false_holding <= result.bound, result
    assert 0.88 <= result.coverage <= 0.92, result


def test_ignoring_the_panel_would_throw_its_power_away():
    """What Welch did before: with 90% of people in both waves, its intervals cover
    about 99% (far too wide); with the pairing they cover about 90% and are narrower."""
    cell = Cell("ceiling", 3, 200, 200, overlap=0.9)
    rng = np.random.default_rng(7)
    widths = []
    for _ in range(50):
        waves = simulate(rng, cell, 0.0)
        paired = estimate(waves)
        unpaired = estimate(Waves(np.concatenate([waves.reference, waves.paired[:, 0]]),
                                  np.concatenate([waves.current, waves.paired[:, 1]])))
        widths.append(np.diff(paired.interval(0.05))[0] / np.diff(unpaired.interval(0.05))[0])
    assert np.mean(widths) < 0.85  # construct means of 3 items correlate about 0.6 across waves


def test_a_true_dip_inside_the_margin_with_ample_responses_is_holding():
    rng = np.random.default_rng(13)
    holding = 0
    for _ in range(200):
        reference = pd.Series(np.clip(rng.normal(3.5, 0.7, 400), 1, 5))
        current = pd.Series(np.clip(rng.normal(3.4, 0.7, 400), 1, 5))
        holding += judge(reference, current, margin=MARGIN) == "holding"
    assert holding / 200 >= 0.9


def test_the_full_comparison_gives_the_same_verdict_as_the_single_construct_core():
    rng = np.random.default_rng(16)
    codebook = pd.DataFrame({"item": ["x"], "construct": ["trust"], "reverse": [0], "min": [1], "max": [5]})
    for difference in (0.3, 0.0, -0.1, -0.4):
        reference = np.clip(rng.normal(3.5, 0.7, 150), 1, 5)
        current = np.clip(rng.normal(3.5 + difference, 0.7, 150), 1, 5)
        data = pd.DataFrame({"response_id": range(300), "wave": ["R"] * 150 + ["C"] * 150, "sector": "All",
                             "x": np.concatenate([reference, current])})
        full = compare(data, codebook, "R", "C", margins={"trust": MARGIN}).constructs[0].verdict
        assert full == judge(pd.Series(reference), pd.Series(current), margin=MARGIN)


@pytest.mark.slow
def test_where_the_rule_gives_no_verdict_the_reference_distribution_would_break_its_promise():
    """The evidence for the rule, kept in the tests: one floor-heavy question, a dozen
    reference responses beside 300 current ones with 1.5 times the spread. The
    skew-corrected permutation-t says "holding" far more often than α at a true fall of
    the margin (and neither the plain permutation-t, nor Welch, nor the bootstrap-t
    calibrates there: docs/statistics.md), so the tool gives no verdict there."""
    cell = Cell("floor", 1, 12, 300, spread=1.5)
    result = run_cell(cell, RUNS)
    assert result.withheld and result.ok
    assert result.false_holding > 0.05 and not result.calibrated, result


def test_a_construct_of_one_question_and_too_few_responses_gets_no_verdict_and_says_why():
    rng = np.random.default_rng(21)
    n = FEW_ITEMS_MIN_WAVE - 5
    codebook = pd.DataFrame({"item": ["solo", "t1", "t2", "t3"], "construct": ["one", "three", "three", "three"],
                             "reverse": [0] * 4, "min": [1] * 4, "max": [5] * 4})
    answers = {item: np.concatenate([rng.choice([3, 4, 5], size=n), rng.choice([1, 2, 3], size=n)]).astype(float)
               for item in codebook["item"]}  # every construct falls by about two points
    data = pd.DataFrame({"response_id": range(2 * n), "wave": ["R"] * n + ["C"] * n, "sector": "All", **answers})
    one, three = compare(data, codebook, "R", "C", margins={"one": MARGIN, "three": MARGIN}).constructs
    assert one.verdict == "cant_tell" and one.method == NO_VERDICT
    assert one.ci90 is None and one.ci_simultaneous is None and one.p_decline is None and one.adjusted is None
    assert one.difference == pytest.approx(answers["solo"][n:].mean() - answers["solo"][:n].mean())
    assert three.verdict == "slipping" and three.ci_simultaneous[1] < 0
    more = pd.concat([data, data.assign(response_id=data["response_id"] + 2 * n)], ignore_index=True)
    assert compare(more, codebook, "R", "C", margins={"one": MARGIN, "three": MARGIN}).constructs[0].verdict == "slipping"
