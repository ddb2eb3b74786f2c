"""Simulations: the verdicts behave as DESIGN.md promises. Seeded, so repeatable."""

import numpy as np
import pandas as pd

from analysis.compare import _raw_tests, compare, judge

CODEBOOK = pd.DataFrame({"item": ["x"], "construct": ["trust"], "reverse": [0], "min": [1], "max": [5]})


def two_waves(rng, n, true_difference, sd=0.7):
    reference = np.clip(rng.normal(3.5, sd, n), 1, 5)
    current = np.clip(rng.normal(3.5 + true_difference, sd, n), 1, 5)
    return pd.DataFrame({
        "response_id": range(2 * n),
        "wave": ["R"] * n + ["C"] * n,
        "sector": "All",
        "x": np.concatenate([reference, current]),
    })


def verdict_rate(seed, runs, n, true_difference, verdict, sd=0.7):
    """Share of simulated comparisons of one construct that reach this verdict."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(runs):
        reference = pd.Series(np.clip(rng.normal(3.5, sd, n), 1, 5))
        current = pd.Series(np.clip(rng.normal(3.5 + true_difference, sd, n), 1, 5))
        hits += judge(reference, current, margin=0.25) == verdict
    return hits / runs


def test_the_full_comparison_gives_the_same_verdict_as_the_single_construct_core():
    rng = np.random.default_rng(16)
    for difference in (0.3, 0.0, -0.1, -0.4):
        data = two_waves(rng, 150, difference)
        full = compare(data, CODEBOOK, "R", "C", margins={"trust": 0.25}).constructs[0].verdict
        core = judge(data.loc[data["wave"] == "R", "x"], data.loc[data["wave"] == "C", "x"], margin=0.25)
        assert full == core


def test_false_slipping_under_no_change_is_at_most_alpha():
    runs = 2000
    rate = verdict_rate(seed=11, runs=runs, n=60, true_difference=0.0, verdict="slipping")
    monte_carlo_error = 3 * np.sqrt(0.05 * 0.95 / runs)
    assert rate <= 0.05 + monte_carlo_error


def test_ninety_percent_intervals_cover_the_true_difference_about_ninety_percent_of_the_time():
    rng = np.random.default_rng(12)
    runs, covered = 3000, 0
    for _ in range(runs):
        true_difference = -0.2
        reference = pd.Series(rng.normal(3.0, 0.8, 50))
        current = pd.Series(rng.normal(3.0 + true_difference, 0.5, 70))  # unequal variances and sizes
        low, high = _raw_tests(reference, current, 0.25, 10)["ci90"]
        covered += low <= true_difference <= high
    assert 0.88 <= covered / runs <= 0.92


def test_a_true_dip_inside_the_margin_with_ample_responses_is_holding():
    assert verdict_rate(seed=13, runs=300, n=400, true_difference=-0.1, verdict="holding") >= 0.9


def test_a_real_gain_is_called_improving_and_a_material_fall_slipping():
    assert verdict_rate(seed=14, runs=200, n=200, true_difference=0.3, verdict="improving") >= 0.9
    assert verdict_rate(seed=15, runs=200, n=200, true_difference=-0.4, verdict="slipping") >= 0.9
