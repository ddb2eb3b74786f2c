import math

import pandas as pd
import pytest

from analysis.scores import construct_scores, reverse_scored

CODEBOOK = pd.DataFrame(
    {
        "item": ["tr_1", "tr_2", "tr_3", "tr_4", "mo_1", "mo_2"],
        "construct": ["trust", "trust", "trust", "trust", "momentum", "momentum"],
        "reverse": [0, 0, 0, 1, 0, 1],
        "min": [1] * 6,
        "max": [5] * 6,
    }
)


def test_reverse_items_are_turned_round():
    responses = pd.DataFrame({"tr_1": [5.0], "tr_2": [4.0], "tr_3": [3.0], "tr_4": [5.0], "mo_1": [2.0], "mo_2": [1.0]})
    scored = reverse_scored(responses, CODEBOOK)
    assert scored.loc[0, "tr_4"] == 1.0   # strongly agreeing that partners are suspicious is the worst answer
    assert scored.loc[0, "mo_2"] == 5.0
    assert scored.loc[0, "tr_1"] == 5.0   # other items unchanged


def test_construct_score_is_the_mean_after_reverse_scoring():
    responses = pd.DataFrame({"tr_1": [5.0], "tr_2": [4.0], "tr_3": [3.0], "tr_4": [5.0], "mo_1": [2.0], "mo_2": [1.0]})
    scores = construct_scores(responses, CODEBOOK)
    assert list(scores.columns) == ["trust", "momentum"]
    assert scores.loc[0, "trust"] == pytest.approx((5 + 4 + 3 + 1) / 4)
    assert scores.loc[0, "momentum"] == pytest.approx((2 + 5) / 2)


def test_at_least_half_the_items_are_needed():
    nan = math.nan
    responses = pd.DataFrame({
        "tr_1": [5.0, 5.0], "tr_2": [4.0, nan], "tr_3": [nan, nan], "tr_4": [nan, nan],
        "mo_1": [nan, 2.0], "mo_2": [nan, nan],
    })
    scores = construct_scores(responses, CODEBOOK)
    assert scores.loc[0, "trust"] == pytest.approx(4.5)   # 2 of 4: enough
    assert math.isnan(scores.loc[1, "trust"])              # 1 of 4: missing
    assert math.isnan(scores.loc[0, "momentum"])           # 0 of 2
    assert scores.loc[1, "momentum"] == 2.0                # 1 of 2: enough
