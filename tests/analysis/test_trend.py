"""Each construct across waves: counts through disclosure, means with t intervals."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.scores import construct_scores
from analysis.trend import construct_counts, construct_trends
from tests.analysis.test_compare import CODEBOOK, make_responses


def three_waves():
    first = make_responses(n=40, seed=5)
    third = make_responses(n=40, seed=6, shift=0.3)
    third = third[third["wave"] == "W2"].assign(wave="W3", response_id=lambda f: "x" + f["response_id"].astype(str))
    return pd.concat([first, third], ignore_index=True)


def test_points_match_a_t_interval_of_the_construct_scores():
    responses = three_waves()
    trends = construct_trends(responses, CODEBOOK, ["W1", "W2", "W3"])
    scores = construct_scores(responses, CODEBOOK)
    for construct, points in trends.items():
        assert [p.wave for p in points] == ["W1", "W2", "W3"]
        for point in points:
            values = scores.loc[responses["wave"] == point.wave, construct].dropna()
            low, high = stats.t.interval(0.9, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
            assert point.n == len(values) and point.withheld is None
            assert point.mean == pytest.approx(values.mean())
            assert point.ci90 == pytest.approx((low, high))


def test_waves_under_k_or_from_too_few_organisations_are_withheld():
    responses = three_waves()
    responses = responses[(responses["wave"] != "W3") | (responses.index % 20 == 0)]
    responses = responses.assign(organisation=np.where(responses["wave"] == "W1", "only one", "many"))
    responses.loc[responses["wave"] == "W2", "organisation"] = [f"o{i}" for i in range((responses["wave"] == "W2").sum())]
    trends = construct_trends(responses, CODEBOOK, ["W1", "W2", "W3"], k=5)
    w1, w2, w3 = trends["alpha"]
    assert (w1.mean, w1.withheld) == (None, "fewer than 3 organisations")
    assert w2.mean is not None
    assert (w3.n, w3.mean, w3.withheld) == (None, None, "fewer than 5 responses")


def test_counts_only_respondents_with_a_score():
    responses = make_responses(n=20)
    responses.loc[:4, ["a1", "a2", "a3"]] = np.nan
    table = construct_counts(responses, CODEBOOK, ["W1", "W2"])
    scores = construct_scores(responses, CODEBOOK)
    expected = scores.notna().groupby(responses["wave"]).sum().T
    assert table.counts.loc["alpha", "W1"] == expected.loc["alpha", "W1"] == 15
    assert not table.suppressed.to_numpy().any()
