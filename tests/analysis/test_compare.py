"""The comparison engine against hand formulas and direct scipy/statsmodels calls."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.compare import (
    ComparisonInputError, Suppressed, compare, compare_by, cronbach_alphas, decide, needed_n,
)
from analysis.scores import construct_scores

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
    responses = make_responses(shift=0.3)
    result = compare(responses, CODEBOOK, reference="W1", current="W2", margins={"alpha": 0.25, "beta": 0.3})
    scores = construct_scores(responses, CODEBOOK)
    r = scores.loc[responses["wave"] == "W1", "alpha"].dropna()
    c = scores.loc[responses["wave"] == "W2", "alpha"].dropna()
    alpha = result.constructs[0]
    assert alpha.construct == "alpha" and (alpha.reference.n, alpha.current.n) == (len(r), len(c))
    assert alpha.difference == pytest.approx(c.mean() - r.mean())
    se = np.sqrt(c.var() / len(c) + r.var() / len(r))
    df = se**4 / ((c.var() / len(c)) ** 2 / (len(c) - 1) + (r.var() / len(r)) ** 2 / (len(r) - 1))
    half_width = stats.t.ppf(0.95, df) * se
    assert alpha.ci90 == pytest.approx((alpha.difference - half_width, alpha.difference + half_width))
    assert alpha.p_improve == pytest.approx(stats.ttest_ind(c, r, equal_var=False, alternative="greater").pvalue)
    assert alpha.p_decline == pytest.approx(stats.ttest_ind(c, r, equal_var=False, alternative="less").pvalue)
    assert alpha.p_noninferior == pytest.approx(
        stats.ttest_ind(c + 0.25, r, equal_var=False, alternative="greater").pvalue)
    pooled = np.sqrt(((len(c) - 1) * c.var() + (len(r) - 1) * r.var()) / (len(c) + len(r) - 2))
    assert alpha.hedges_g == pytest.approx((1 - 3 / (4 * (len(c) + len(r)) - 9)) * alpha.difference / pooled)
    holm = multipletests([k.p_improve for k in result.constructs], method="holm")[1]
    assert [k.p_improve_adj for k in result.constructs] == pytest.approx(list(holm))
    assert alpha.verdict == "improving"


@pytest.mark.parametrize(
    "p_improve, p_noninferior, p_decline, difference, verdict, dip, material",
    [
        (0.01, 0.001, 0.9, 0.3, "improving", False, False),
        (0.5, 0.01, 0.5, 0.0, "holding", False, False),
        (0.9, 0.01, 0.02, -0.1, "holding", True, False),      # a dip within the margin
        (0.99, 0.2, 0.01, -0.2, "slipping", False, False),
        (0.99, 0.9, 0.001, -0.4, "slipping", False, True),    # beyond the margin: material
        (0.3, 0.2, 0.4, -0.05, "cant_tell", False, False),
    ],
)
def test_verdict_rules_first_match_wins(p_improve, p_noninferior, p_decline, difference, verdict, dip, material):
    assert decide(True, p_improve, p_noninferior, p_decline, difference, 0.25) == (verdict, dip, material)


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


def test_panel_pairs_use_members_present_in_both_waves():
    result = compare(make_responses(), CODEBOOK, "W1", "W2")
    assert result.constructs[0].panel.n_pairs == 20


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


def test_breakdown_withholds_small_groups_and_adjusts_the_grid_with_benjamini_hochberg():
    responses = make_responses(n=120, shift=0.3, sectors=("Funder", "Council", "Charity", "Faith"))
    nth = responses.groupby(["wave", "sector"]).cumcount()
    responses = responses[~((responses["sector"] == "Faith") & (nth >= 4))]
    responses = responses.assign(organisation=[f"org{i % 7}" for i in range(len(responses))])
    responses.loc[responses["sector"] == "Charity", "organisation"] = "one charity"
    result = compare_by(responses, CODEBOOK, "sector", "W1", "W2", k=5)
    assert all(isinstance(row, Suppressed) for row in result["Faith"] + result["Charity"])
    shown = [(name, row) for name in ("Council", "Funder") for row in result[name]]
    scores = construct_scores(responses, CODEBOOK)
    raw = []
    for name, row in shown:
        in_group = responses["sector"] == name
        r = scores.loc[in_group & (responses["wave"] == "W1"), row.construct].dropna()
        c = scores.loc[in_group & (responses["wave"] == "W2"), row.construct].dropna()
        raw.append(stats.ttest_ind(c, r, equal_var=False, alternative="greater").pvalue)
        assert row.difference == pytest.approx(c.mean() - r.mean())
    expected = multipletests(raw, method="fdr_bh")[1]
    assert [row.p_improve_adj for _, row in shown] == pytest.approx(list(expected))
    # Unknown organisations withhold nothing, and without Faith nothing needs a complement.
    unknown = responses[responses["sector"] != "Faith"].drop(columns="organisation")
    result = compare_by(unknown, CODEBOOK, "sector", "W1", "W2", k=5)
    assert not any(isinstance(row, Suppressed) for rows in result.values() for row in rows)


@pytest.mark.parametrize("margin, sd", [(0.25, 0.7), (0.1, 1.2), (0.5, 0.3), (0.3, 0.9), (0.6, 0.5)])
def test_needed_n_is_the_smallest_n_statsmodels_says_reaches_80_percent_power(margin, sd):
    solved = TTestIndPower().solve_power(effect_size=margin / sd, alpha=0.05, power=0.8, alternative="larger")
    assert needed_n(margin, sd) == max(2, int(np.ceil(solved)))
    assert needed_n(0.25, 0.0) is None


@settings(max_examples=30, deadline=None)  # each statsmodels call runs a full garbage collection
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=30))
def test_holm_matches_statsmodels(p_values):
    from analysis.compare import _holm

    assert _holm(p_values) == pytest.approx(list(multipletests(p_values, method="holm")[1]))


def test_answers_that_never_vary_give_verdicts_without_dividing_by_zero():
    responses = make_responses(n=30)
    items = ["a1", "a2", "a3", "b1", "b2"]
    responses.loc[responses["wave"] == "W1", items] = 3.0
    responses.loc[responses["wave"] == "W2", items] = 3.0
    responses.loc[responses["wave"] == "W2", ["b1", "b2"]] = 2.0  # beta falls by exactly 1
    comparison = compare(responses, CODEBOOK, "W1", "W2", margins={"alpha": 0.25, "beta": 1.0})
    result = {c.construct: c for c in comparison.constructs}
    assert result["alpha"].verdict == "holding" and result["alpha"].adjusted.verdict == "holding"
    # A fall of exactly the margin is not "no worse than the margin": H0 d ≤ −Δ holds.
    assert result["beta"].verdict == "slipping" and not result["beta"].material
    assert result["beta"].panel.ci90 == (-1.0, -1.0)
