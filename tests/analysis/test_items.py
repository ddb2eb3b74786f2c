import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.nonparametric import rank_compare_2indep

from analysis.items import item_comparisons
from tests.analysis.test_compare import CODEBOOK, make_responses


def test_item_results_match_statsmodels_after_reverse_scoring():
    responses = make_responses(n=80, shift=0.4)
    results = {r.item: r for r in item_comparisons(responses, CODEBOOK, "W1", "W2")}
    r = responses.loc[responses["wave"] == "W1", "a3"]
    c = responses.loc[responses["wave"] == "W2", "a3"]
    direct = rank_compare_2indep((6 - c).to_numpy(), (6 - r).to_numpy())  # a3 is reverse-worded
    assert results["a3"].prob_superiority == pytest.approx(direct.prob1)
    assert results["a3"].p_value == pytest.approx(direct.pvalue)
    low, high = direct.conf_int(alpha=0.1)
    assert results["a3"].ci90 == pytest.approx((max(0, low), min(1, high)))
    assert results["a1"].prob_superiority > 0.5 and results["a3"].prob_superiority > 0.5  # both got better
    assert list(results) == ["a1", "a2", "a3", "b1", "b2"]


def test_no_change_is_near_a_half_and_too_few_shows_nothing():
    results = item_comparisons(make_responses(n=300, seed=4), CODEBOOK, "W1", "W2")
    assert all(abs(r.prob_superiority - 0.5) < 0.08 for r in results)
    few = item_comparisons(make_responses(n=5), CODEBOOK, "W1", "W2")
    assert all(r.prob_superiority is None and r.ci90 is None and r.n_reference == 5 for r in few)
    assert all(0 <= r.ci90[0] <= r.prob_superiority <= r.ci90[1] <= 1 for r in results)
    assert not np.isnan([r.p_value for r in results]).any()


@pytest.mark.parametrize("reference, current", [
    ([1, 2] * 10, [5] * 20),  # complete separation: every current answer is better
    ([3] * 20, [3] * 20),  # nobody's answer varies
])
def test_brunner_munzel_says_not_estimable_instead_of_a_clipped_interval(reference, current):
    codebook = pd.DataFrame({"item": ["x"], "construct": ["c"], "reverse": [0], "min": [1], "max": [5]})
    data = pd.DataFrame({"response_id": range(40), "wave": ["R"] * 20 + ["C"] * 20, "sector": "A",
                         "x": reference + current})
    (result,) = item_comparisons(data, codebook, "R", "C")
    assert not result.estimable and result.ci90 is None and result.p_value is None
