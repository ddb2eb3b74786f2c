"""Single items: the probability that a current-wave answer beats a reference-wave answer.

Brunner–Munzel (statsmodels `rank_compare_2indep`) suits ordinal answers and unequal
spreads. Answers are reverse-scored first, so above 0.5 always means better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.nonparametric import rank_compare_2indep

from analysis.compare import CI_LEVEL, DEFAULT_MIN_N, check_inputs
from analysis.scores import reverse_scored


@dataclass(frozen=True)
class ItemComparison:
    item: str
    construct: str
    n_reference: int
    n_current: int
    prob_superiority: float | None  # P(current > reference) + ½·P(tie)
    ci90: tuple[float, float] | None
    p_value: float | None  # two-sided, H0: 0.5
    breaks_trend: bool
    estimable: bool = True  # False: complete separation or no variation, so no interval


def item_comparisons(
    responses: pd.DataFrame, codebook: pd.DataFrame, reference: str, current: str, min_n: int = DEFAULT_MIN_N
) -> tuple[ItemComparison, ...]:
    responses = check_inputs(responses, codebook, [reference, current])
    scored = reverse_scored(responses, codebook)
    wave = responses["wave"]
    items = codebook[codebook["construct"].notna()]
    results = []
    for row in items.itertuples():
        r = scored.loc[wave == reference, row.item].dropna().to_numpy()
        c = scored.loc[wave == current, row.item].dropna().to_numpy()
        breaks = bool(getattr(row, "breaks_trend", False))
        if len(r) < min_n or len(c) < min_n:
            results.append(ItemComparison(row.item, row.construct, len(r), len(c), None, None, None, breaks))
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            test = rank_compare_2indep(c, r)
            low, high = test.conf_int(alpha=1 - CI_LEVEL)
        if not (np.isfinite(test.pvalue) and np.isfinite(low) and np.isfinite(high)) or low == high:
            # Complete separation (every current answer above every reference one, or
            # below) or answers that never vary: the rank variance is zero and no interval
            # exists. Say so rather than print (0, 1) or clip a NaN.
            results.append(ItemComparison(row.item, row.construct, len(r), len(c), float(test.prob1), None,
                                          None, breaks, estimable=False))
            continue
        # The interval is on the probability scale; keep it inside [0, 1].
        ci = (max(0.0, float(low)), min(1.0, float(high)))
        results.append(ItemComparison(row.item, row.construct, len(r), len(c), float(test.prob1), ci,
                                      float(test.pvalue), breaks))
    return tuple(results)
