"""The comparison engine against hand formulas and direct scipy/statsmodels calls."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower
from hypothesis import given
from hypothesis import strategies as st

from analysis.compare import (
    ComparisonInputError, Suppressed, compare, compare_by, cronbach_alphas, needed_n, read_verdict,
)
from analysis.inference import RESAMPLED
from analysis.scores import construct_scores
from tests.conftest import COSTLY_EXAMPLES

CODEBOOK = pd.DataFrame({
    "item": ["a1", "a2", "a3", "b1", "b2"],
    "construct": ["alpha", "alpha", "alpha", "beta", "beta"],
    "reverse": [0, 0, 1, 0, 0],
    "min": [1] * 5,
    "max": [5] * 5,
})


def make_responses(seed=1, n=60, shift=0.0, sectors=("A", "B")):
    rng = np.random.default_rng(seed)
    rows = []
    for wave, delta in (("W1", 0.0), ("W2", shift)):
        for i in range(n):
            base = 3 + delta + rng.normal(0, 0.6)
            rows.append({
                "response_id": f"{wave}-{i}", "wave": wave, "sector": sectors[i % len(sectors)],
                "panel_key": f"p{i}" if i < 20 else None,
                "a1": np.clip(np.rint(base + rng.normal(0, 0.5)), 1, 5),
                "a2": np.clip(np.rint(base + rng.normal(0, 0.5)), 1, 5),
                "a3": np.clip(np.rint(6 - base + rng.normal(0, 0.5)), 1, 5),
                "b1": np.clip(np.rint(3 + rng.normal(0, 0.8)), 1, 5),
                "b2": np.clip(np.rint(3 + rng.normal(0, 0.8)), 1, 5),
            })
    return pd.DataFrame(rows)


def test_statistics_match_scipy_and_statsmodels():
    # Large waves without panel keys: Welch's t, so scipy gives the same figures.
    responses = make_responses(n=250, shift=0.3).drop(columns="panel_key")
    result = compare(responses, CODEBOOK, reference="W1", current="W2", margins={"alpha": 0.25, "beta": 0.3})
    scores = construct_scores(responses, CODEBOOK)
    r = scores.loc[responses["wave"] == "W1", "alpha"].dropna()
    c = scores.loc[responses["wave"] == "W2", "alpha"].dropna()
    alpha = result.constructs[0]
    assert alpha.method == "welch"
    assert alpha.construct == "alpha" and (alpha.reference.n, alpha.current.n) == (len(r), len(c))
    assert alpha.difference == pytest.approx(c.mean() - r.mean())
    se = np.sqrt(c.var() / len(c) + r.var() / len(r))
    df = se**4 / ((c.var() / len(c)) ** 2 / (len(c) - 1) + (r.var() / len(r)) ** 2 / (len(r) - 1))
    half_width = stats.t.ppf(0.95, df) * se
    assert alpha.ci90 == pytest.approx((alpha.difference - half_width, alpha.difference + half_width))
    # Two constructs compared: each simultaneous bound at α/2.
    half_width = stats.t.ppf(1 - 0.05 / 2, df) * se
    assert alpha.ci_simultaneous == pytest.approx((alpha.difference - half_width, alpha.difference + half_width))
    assert alpha.p_improve == pytest.approx(stats.ttest_ind(c, r, equal_var=False, alternative="greater").pvalue)
    assert alpha.p_decline == pytest.approx(stats.ttest_ind(c, r, equal_var=False, alternative="less").pvalue)
    assert alpha.p_noninferior == pytest.approx(
        stats.ttest_ind(c + 0.25, r, equal_var=False, alternative="greater").pvalue)
    pooled = np.sqrt(((len(c) - 1) * c.var() + (len(r) - 1) * r.var()) / (len(c) + len(r) - 2))
    assert alpha.hedges_g == pytest.approx((1 - 3 / (4 * (len(c) + len(r)) - 9)) * alpha.difference / pooled)
    assert [k.p_improve_adj for k in result.constructs] == pytest.approx(
        [min(1.0, 2 * k.p_improve) for k in result.constructs])
    assert alpha.verdict == "improving"


@pytest.mark.parametrize(
    "low, high, verdict, dip, material",
    [
        (0.05, 0.5, "improving", False, False),
        (-0.2, 0.2, "holding", False, False),
        (-0.2, -0.01, "holding", True, False),      # a dip within the margin
        (-0.3, -0.1, "slipping", False, False),
        (-0.6, -0.3, "slipping", False, True),      # the whole interval beyond the margin: material
        (-0.3, 0.1, "cant_tell", False, False),
        (-0.25, 0.1, "cant_tell", False, False),    # a fall of exactly the margin is not ruled out
    ],
)
def test_verdict_is_read_off_the_interval_first_match_wins(low, high, verdict, dip, material):
    assert read_verdict(low, high, 0.25) == (verdict, dip, material)


@COSTLY_EXAMPLES
@given(st.integers(0, 10_000), st.integers(10, 80), st.floats(-0.6, 0.6), st.booleans())
def test_every_verdict_and_adjusted_p_value_agrees_with_the_interval_shown(seed, n, shift, panel):
    responses = make_responses(seed=seed, n=n, shift=shift)
    if not panel:
        responses = responses.drop(columns="panel_key")
    result = compare(responses, CODEBOOK, "W1", "W2", margins={"alpha": 0.25, "beta": 0.3})
    for k in result.constructs:
        if k.ci_simultaneous is None:
            continue
        low, high = k.ci_simultaneous
        assert (k.verdict, k.dip_within_margin, k.material) == read_verdict(low, high, k.margin)
        assert (low > 0) == (k.p_improve_adj < 0.05)
        assert (low > -k.margin) == (k.p_noninferior_adj < 0.05)
        assert (high < 0) == (k.p_decline_adj < 0.05)
        assert k.ci_simultaneous[0] <= k.ci90[0] <= k.difference <= k.ci90[1] <= k.ci_simultaneous[1]


def test_a_cant_tell_whose_unadjusted_interval_excludes_zero_says_where_it_points():
    # A rise can only lean (not be "holding") when the adjusted interval is far wider than
    # the 90% one, so falls are what partnerships will see.
    found = set()
    for seed in range(200):
        responses = make_responses(seed=seed, n=60, shift=-0.25).drop(columns="panel_key")
        for k in compare(responses, CODEBOOK, "W1", "W2").constructs:
            if k.leaning:
                assert k.verdict == "cant_tell"
                assert (k.ci90[1] < 0) if k.leaning == "fall" else (k.ci90[0] > 0)
                found.add(k.leaning)
            elif k.verdict == "cant_tell":
                assert k.ci90[0] <= 0 <= k.ci90[1]
    assert found == {"fall"}


def test_too_few_responses_show_no_test():
    responses = make_responses(n=8)
    result = compare(responses, CODEBOOK, "W1", "W2", min_n=10)
    assert {k.verdict for k in result.constructs} == {"too_few"}
    assert result.constructs[0].p_improve is None and result.constructs[0].ci90 is None
    assert result.constructs[0].reference.n == 8


def test_no_change_is_holding_with_enough_responses_not_no_change():
    result = compare(make_responses(n=400, seed=3), CODEBOOK, "W1", "W2", margins={"alpha": 0.25, "beta": 0.25})
    assert {k.verdict for k in result.constructs} == {"holding"}
    assert all(k.needed_n and k.needed_n > 0 for k in result.constructs)


def test_gain_retained_against_the_baseline():
    responses = make_responses(shift=0.5)
    baseline = responses[responses["wave"] == "W1"].assign(wave="W0")
    current = responses[responses["wave"] == "W2"].assign(wave="W3")
    data = pd.concat([baseline, responses, current], ignore_index=True)
    result = compare(data, CODEBOOK, reference="W2", current="W3", baseline="W0")
    by_name = {k.construct: k for k in result.constructs}
    assert by_name["alpha"].gain_retained is True
    assert by_name["beta"].gain_retained is False


def test_composition_adjustment_reweights_to_the_reference_mix():
    responses = make_responses(n=200, seed=5)
    # The current wave over-represents sector B, whose scores are much higher.
    current = responses["wave"] == "W2"
    responses.loc[current & (responses["sector"] == "B"), ["a1", "a2"]] = 5.0
    responses.loc[current & (responses["sector"] == "B"), "a3"] = 1.0
    drop = responses.index[current & (responses["sector"] == "A")][:80]
    responses = responses.drop(drop)
    result = compare(responses, CODEBOOK, "W1", "W2")
    alpha = result.constructs[0]
    assert alpha.adjusted.difference < alpha.difference  # fewer high-scoring B in the reweighted mix
    assert alpha.adjusted.ci90[0] < alpha.adjusted.difference < alpha.adjusted.ci90[1]
    assert alpha.adjusted.left_out == ()


def test_responses_without_a_sector_are_one_stratum_on_both_sides():
    # Two identical waves, half of each without a sector: the adjusted figure is the raw one.
    wave = make_responses(n=120, seed=8).drop(columns="panel_key")
    wave = wave[wave["wave"] == "W1"].reset_index(drop=True)
    wave.loc[wave.index % 2 == 0, "sector"] = None
    data = pd.concat([wave, wave.assign(wave="W2")], ignore_index=True)
    for k in compare(data, CODEBOOK, "W1", "W2").constructs:
        assert k.adjusted.difference == pytest.approx(0.0, abs=1e-12)
        assert k.adjusted.verdict == k.verdict and not k.adjusted_disagrees


@COSTLY_EXAMPLES
@given(st.integers(0, 10_000), st.lists(st.integers(10, 60), min_size=1, max_size=4), st.integers(1, 3),
       st.floats(-0.5, 0.5))
def test_identical_sector_mixes_give_exactly_the_raw_result(seed, sizes, scale, shift):
    rng = np.random.default_rng(seed)
    rows = []
    for wave, delta, factor in (("W1", 0.0, 1), ("W2", shift, scale)):  # the same mix, scaled
        for s, size in enumerate(sizes):
            for i in range(size * factor):
                level = np.clip(np.rint(3 + delta + s * 0.4 + rng.normal(0, 0.9, 5)), 1, 5)
                rows.append({"response_id": f"{wave}-{s}-{i}", "wave": wave, "sector": f"S{s}",
                             **dict(zip(["a1", "a2", "a3", "b1", "b2"], level))})
    result = compare(pd.DataFrame(rows), CODEBOOK, "W1", "W2")
    for k in result.constructs:
        if k.adjusted is None:
            continue
        assert k.adjusted.difference == k.difference
        assert k.adjusted.ci90 == k.ci90
        assert k.adjusted.verdict == k.verdict and not k.adjusted_disagrees


def test_strata_below_the_minimum_are_left_out_of_both_waves_and_named():
    responses = make_responses(n=200, seed=9, sectors=("A", "B", "C", "D", "E", "F", "G", "H", "I", "J"))
    responses = responses.drop(columns="panel_key")
    tiny = (responses["sector"] == "J") & (responses.groupby(["wave", "sector"]).cumcount() >= 3)
    responses = responses[~tiny]  # J: 3 responses a wave
    alpha = compare(responses, CODEBOOK, "W1", "W2").constructs[0]
    assert alpha.adjusted.left_out == ("J",)


def test_panel_pairs_use_members_present_in_both_waves():
    result = compare(make_responses(), CODEBOOK, "W1", "W2")
    assert result.constructs[0].panel.n_pairs == 20
    assert result.constructs[0].n_pairs == 20 and result.constructs[0].method == "partially-overlapping"


def test_a_panel_key_repeated_within_a_wave_pairs_nothing():
    responses = make_responses()
    responses.loc[responses["panel_key"] == "p1", "panel_key"] = "p0"  # p0 twice in each wave
    result = compare(responses, CODEBOOK, "W1", "W2")
    assert result.constructs[0].n_pairs == 18


def test_cronbach_alpha_by_hand():
    perfect = pd.DataFrame({"a1": [1, 2, 3, 4, 5.0], "a2": [1, 2, 3, 4, 5.0], "a3": [5, 4, 3, 2, 1.0],
                            "b1": [1, 2, 1, 2, 1.0], "b2": [2, 2, 1, 1, 3.0]})
    alphas = cronbach_alphas(perfect, CODEBOOK)
    assert alphas["alpha"] == pytest.approx(1.0)   # reverse item turned round first
    assert alphas["beta"] < 0.7


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r, c: (r.drop(columns=["sector"]), c), "no 'sector' column"),
        (lambda r, c: (r, c.assign(item=["a1", "a2", "a3", "b1", "zz"])), "items not in the responses: zz"),
        (lambda r, c: (r.assign(a1=9.0), c), "item 'a1' has a value 9 outside 1..5"),
        (lambda r, c: (r.assign(a1="x"), c), "item 'a1' has values that are not numbers"),
    ],
)
def test_bad_input_is_refused_with_one_clear_line(change, message):
    responses, codebook = change(make_responses(), CODEBOOK)
    with pytest.raises(ComparisonInputError, match=message):
        compare(responses, codebook, "W1", "W2")
    with pytest.raises(ComparisonInputError, match="wave 'W9' is not in the responses"):
        compare(make_responses(), CODEBOOK, "W1", "W9")


def test_breakdown_withholds_small_groups_and_adjusts_within_each_construct_over_groups_shown():
    responses = make_responses(n=1000, shift=0.3, sectors=("Funder", "Council", "Charity", "Faith", "Health"))
    responses = responses.drop(columns="panel_key")
    nth = responses.groupby(["wave", "sector"]).cumcount()
    responses = responses[~((responses["sector"] == "Faith") & (nth >= 4))]
    responses = responses.assign(organisation=[f"org{i % 7}" for i in range(len(responses))])
    responses.loc[responses["sector"] == "Charity", "organisation"] = "one charity"
    result = compare_by(responses, CODEBOOK, "sector", "W1", "W2", k=5)
    # One charity's 200 answers beside Faith's 4 alone would be the place's figures less
    # the sectors shown: a third sector is withheld so its mean stays uncertain.
    withheld = {name for name, rows in result.items() if all(isinstance(row, Suppressed) for row in rows)}
    assert {"Faith", "Charity"} < withheld and len(withheld) == 3
    scores = construct_scores(responses, CODEBOOK)
    for construct_index in range(2):
        shown = [(name, result[name][construct_index]) for name in sorted(set(result) - withheld)]
        for name, row in shown:
            in_group = responses["sector"] == name
            r = scores.loc[in_group & (responses["wave"] == "W1"), row.construct].dropna()
            c = scores.loc[in_group & (responses["wave"] == "W2"), row.construct].dropna()
            assert row.difference == pytest.approx(c.mean() - r.mean())
            assert row.p_improve == pytest.approx(
                stats.ttest_ind(c, r, equal_var=False, alternative="greater").pvalue)
            # m = the two sectors shown for this construct; withheld ones never count.
            assert row.p_improve_adj == pytest.approx(min(1.0, 2 * row.p_improve))
    # Unknown organisations withhold nothing, and without Faith nothing needs a complement.
    unknown = responses[responses["sector"] != "Faith"].drop(columns="organisation")
    result = compare_by(unknown, CODEBOOK, "sector", "W1", "W2", k=5)
    assert not any(isinstance(row, Suppressed) for rows in result.values() for row in rows)


@pytest.mark.parametrize("margin, sd", [(0.25, 0.7), (0.1, 1.2), (0.5, 0.3), (0.3, 0.9), (0.6, 0.5)])
def test_needed_n_is_the_smallest_n_statsmodels_says_reaches_80_percent_power(margin, sd):
    solved = TTestIndPower().solve_power(effect_size=margin / sd, alpha=0.05, power=0.8, alternative="larger")
    assert needed_n(margin, sd) == max(2, int(np.ceil(solved)))
    assert needed_n(0.25, 0.0) is None


def test_answers_that_never_vary_cannot_rule_anything_out():
    responses = make_responses(n=30).drop(columns="panel_key")
    items = ["a1", "a2", "a3", "b1", "b2"]
    responses[items] = 3.0
    comparison = compare(responses, CODEBOOK, "W1", "W2")
    for k in comparison.constructs:
        assert k.verdict == "cant_tell" and k.ci_simultaneous is None and k.p_noninferior is None
        assert k.difference == 0.0


@pytest.mark.parametrize("kwargs, message", [
    ({"reference": "W1", "current": "W1"}, "must be different waves"),
    ({"margins": {"alpha": -0.1}}, "above 0"),
    ({"margins": {"alpha": 0.0}}, "above 0"),
    ({"margins": {"alpha": float("nan")}}, "above 0"),
    ({"min_n": 1}, "at least 10"),
])
def test_settings_no_comparison_can_honour_are_refused(kwargs, message):
    arguments = {"reference": "W1", "current": "W2", **kwargs}
    with pytest.raises(ComparisonInputError, match=message):
        compare(make_responses(), CODEBOOK, **arguments)
    assert needed_n(-0.25, 0.7) is None  # never a search that cannot end


def test_the_same_answers_in_any_order_give_the_same_figures():
    responses = make_responses(n=40, shift=-0.2).drop(columns="panel_key")  # small: resampled
    shuffled = responses.sample(frac=1.0, random_state=4).reset_index(drop=True)
    first, second = (compare(data, CODEBOOK, "W1", "W2").constructs for data in (responses, shuffled))
    assert first[0].method == RESAMPLED
    assert [(k.ci_simultaneous, k.p_decline, k.verdict) for k in first] == \
        [(k.ci_simultaneous, k.p_decline, k.verdict) for k in second]
