"""The reference distributions behind every interval: Welch, Derrick's partially
overlapping t (with its two limits), and the studentized permutation distribution."""

import numpy as np
import pytest
from scipy import stats

from analysis.inference import (
    MIN_PAIRS,
    NO_VERDICT,
    RESAMPLED,
    Waves,
    estimate,
    hall,
    hall_inverse,
    resampling_needed,
    verdict_possible,
)


def test_welch_matches_scipy():
    rng = np.random.default_rng(1)
    r, c = rng.normal(3, 0.8, 250), rng.normal(3.2, 0.5, 300)
    result = estimate(Waves(r, c))
    assert result.method == "welch"
    expected = stats.ttest_ind(c, r, equal_var=False)
    assert result.difference == pytest.approx(c.mean() - r.mean())
    assert result.interval(0.05) == pytest.approx(tuple(expected.confidence_interval(0.90)))
    assert result.p_above(0.0) == pytest.approx(stats.ttest_ind(c, r, equal_var=False, alternative="greater").pvalue)


def test_everyone_paired_is_the_paired_t_test():
    rng = np.random.default_rng(2)
    r = rng.normal(3, 0.8, 300)
    c = r + rng.normal(0.1, 0.3, 300)
    result = estimate(Waves(np.empty(0), np.empty(0), np.column_stack([r, c])))
    expected = stats.ttest_rel(c, r)
    assert result.method == "paired" and result.df == 299
    assert result.interval(0.05) == pytest.approx(tuple(expected.confidence_interval(0.90)))
    assert result.p_below(0.0) == pytest.approx(stats.ttest_rel(c, r, alternative="less").pvalue)


def test_partial_overlap_follows_derrick_et_al_by_hand():
    rng = np.random.default_rng(3)
    n_a, n_b, n_c = 220, 240, 40
    pairs = rng.multivariate_normal([3, 3.1], [[0.6, 0.4], [0.4, 0.6]], n_c)
    only_r, only_c = rng.normal(3, 0.8, n_a), rng.normal(3.1, 0.8, n_b)
    result = estimate(Waves(only_r, only_c, pairs))
    x1, x2 = np.concatenate([only_r, pairs[:, 0]]), np.concatenate([only_c, pairs[:, 1]])
    n1, n2 = len(x1), len(x2)
    s1, s2 = x1.std(ddof=1), x2.std(ddof=1)
    r = np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]
    se = np.sqrt(s1**2 / n1 + s2**2 / n2 - 2 * r * s1 * s2 * n_c / (n1 * n2))
    gamma = (s1**2 / n1 + s2**2 / n2) ** 2 / ((s1**2 / n1) ** 2 / (n1 - 1) + (s2**2 / n2) ** 2 / (n2 - 1))
    df = (n_c - 1) + (gamma - n_c + 1) / (n_a + n_b + 2 * n_c) * (n_a + n_b)
    assert result.method == "partially-overlapping"
    assert (result.difference, result.se, result.df) == pytest.approx((x2.mean() - x1.mean(), se, df))


def test_too_few_pairs_count_as_independent_answers():
    rng = np.random.default_rng(4)
    pairs = rng.normal(3, 0.7, (MIN_PAIRS - 1, 2))
    result = estimate(Waves(rng.normal(3, 0.7, 300), rng.normal(3, 0.7, 300), pairs))
    assert result.method == "welch" and result.n_pairs == 0


def test_the_size_rule_never_looks_at_the_answers():
    assert resampling_needed(12, 300) and resampling_needed(300, 12) and resampling_needed(150, 150)
    assert resampling_needed(250, 3000) and not resampling_needed(250, 2000)
    assert not resampling_needed(200, 200)


def test_permutation_bounds_and_p_values_agree_exactly():
    rng = np.random.default_rng(5)
    r = rng.choice([1, 2, 3, 4, 5], p=[.02, .04, .10, .34, .50], size=12).astype(float)
    c = rng.choice([1, 2, 3, 4, 5], p=[.02, .04, .10, .34, .50], size=300).astype(float)
    result = estimate(Waves(r, c))
    assert result.method == RESAMPLED
    for level in (0.05, 0.05 / 11, 0.01):
        low, high = result.interval(level)
        for value in np.linspace(low - 0.3, high + 0.3, 61):
            assert (low > value) == (result.p_above(value) < level)
            assert (high < value) == (result.p_below(value) < level)


def test_the_same_answers_give_the_same_draws_in_any_order():
    rng = np.random.default_rng(6)
    r, c = rng.integers(1, 6, 20).astype(float), rng.integers(1, 6, 90).astype(float)
    first = estimate(Waves(r, c))
    second = estimate(Waves(rng.permutation(r), rng.permutation(c)))
    assert first.interval(0.05) == second.interval(0.05)
    assert first.p_below(0.0) == second.p_below(0.0)


def test_reweighting_with_all_weights_one_changes_nothing():
    rng = np.random.default_rng(7)
    r, c = rng.normal(3, 0.8, 250), rng.normal(3.2, 0.5, 300)
    plain, weighted = estimate(Waves(r, c)), estimate(Waves(r, c, current_weights=np.ones(300)))
    assert weighted.difference == pytest.approx(plain.difference, abs=1e-12)
    assert weighted.se == pytest.approx(plain.se, rel=1e-12) and weighted.df == pytest.approx(plain.df, rel=1e-9)


def test_the_rule_on_questions_looks_only_at_sizes_and_questions():
    assert not verdict_possible(12, 300, 1) and not verdict_possible(300, 12, 2) and not verdict_possible(29, 29, 2)
    assert verdict_possible(30, 300, 1) and verdict_possible(30, 30, 2)
    assert verdict_possible(10, 10, 3) and verdict_possible(12, 300, 4)
    assert verdict_possible(12, 300, None)  # not known: three or more questions assumed


def test_where_the_rule_gives_no_verdict_the_estimate_keeps_its_figures_but_draws_no_interval():
    rng = np.random.default_rng(8)
    r = rng.choice([1, 2, 3, 4, 5], p=[.50, .34, .10, .04, .02], size=300).astype(float)
    c = rng.choice([1, 2, 3, 4, 5], p=[.50, .34, .10, .04, .02], size=12).astype(float)
    withheld, allowed = estimate(Waves(r, c), items=1), estimate(Waves(r, c), items=3)
    assert withheld.method == NO_VERDICT and not withheld.estimable
    assert allowed.method == RESAMPLED and allowed.estimable
    expected = stats.ttest_ind(c, r, equal_var=False)
    assert withheld.difference == pytest.approx(c.mean() - r.mean()) == pytest.approx(allowed.difference)
    assert withheld.difference / withheld.se == pytest.approx(expected.statistic)
    assert estimate(Waves(r, rng.permutation(np.tile(c, 3))), items=1).estimable  # 36 responses: allowed


def test_halls_transformation_is_increasing_and_inverted_exactly():
    t = np.linspace(-30, 30, 601)
    for skew in (-2.0, -0.3, -1e-9, 0.0, 1e-9, 0.4, 3.0):
        h = hall(t, skew)
        assert np.all(np.diff(h) >= 0)
        # good to about the cube root of machine precision where the slope is 0 (t = −3/γ)
        assert hall_inverse(h, skew) == pytest.approx(t, abs=1e-4)
    assert hall(np.inf, 0.5) == np.inf and hall(-np.inf, -0.5) == -np.inf
    assert hall_inverse(np.inf, -0.5) == np.inf and hall(1.7, 0.0) == 1.7


def test_with_equal_sizes_a_skewed_wave_with_more_spread_is_not_read_as_a_fall():
    """Sixty answers a wave, floor-heavy; the current wave has more spread and the longer
    tail of high answers. Re-splitting equal waves gives a distribution that is symmetric
    whatever the shapes (swapping the sides negates t), so the plain permutation-t read
    these answers as a fall (upper bound −0.017, p = 0.043). Such a wave's mean is low
    exactly when it drew few of its rare high answers, and its spread then looks small
    too: the skew-corrected distribution leans towards that tail, and the fall is not yet
    conclusive."""
    def answers(counts):
        return np.repeat(np.arange(1.0, 6.0), counts)

    result = estimate(Waves(answers([18, 22, 14, 5, 1]), answers([40, 7, 4, 4, 5])))
    low, high = result.interval(0.05)
    assert high - result.difference > 1.05 * (result.difference - low)
    assert high > 0 and result.p_below(0.0) > 0.05
