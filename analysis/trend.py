"""Each construct across all waves: n, mean and a 90% CI of the mean, through disclosure.

Pure: the tidy responses frame and codebook in, frozen dataclasses out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from analysis.compare import CI_LEVEL
from analysis.disclosure import (
    K_INTERNAL, MIN_ORGANISATIONS, DisclosedTable, WaveDecision, disclose, distinct_organisations,
)
from analysis.scores import construct_scores


@dataclass(frozen=True)
class TrendPoint:
    wave: str
    n: int | None  # None where withheld
    mean: float | None
    ci90: tuple[float, float] | None
    withheld: str | None


def construct_counts(
    responses: pd.DataFrame,
    codebook: pd.DataFrame,
    waves: list[str],
    k: int = K_INTERNAL,
    min_organisations: int = MIN_ORGANISATIONS,
    scores: pd.DataFrame | None = None,
) -> DisclosedTable:
    """Respondents with a score, construct × wave, through `disclose`. Only cells are
    published (no totals), so no complements need withholding."""
    scores = construct_scores(responses, codebook) if scores is None else scores
    in_waves = responses["wave"].isin(waves)
    counts = scores[in_waves].notna().groupby(responses.loc[in_waves, "wave"]).sum().T
    counts = counts.reindex(columns=waves, fill_value=0)
    organisations = None
    if "organisation" in responses.columns:
        wave, organisation = responses["wave"], responses["organisation"]
        columns = {}
        for construct in scores.columns:
            answered = in_waves & scores[construct].notna()
            columns[construct] = distinct_organisations(organisation[answered], wave[answered])
        organisations = pd.DataFrame(columns).T.reindex(index=counts.index, columns=waves).astype(float)
    return disclose(counts, k, organisations, min_organisations, complements=False)


def construct_trends(
    responses: pd.DataFrame,
    codebook: pd.DataFrame,
    waves: list[str],
    k: int = K_INTERNAL,
    min_organisations: int = MIN_ORGANISATIONS,
    scores: pd.DataFrame | None = None,
    decisions: dict[str, WaveDecision] | None = None,
    place: str | None = None,
) -> dict[str, tuple[TrendPoint, ...]]:
    """Per construct, one point per wave (in the order given). With `decisions` (each
    wave's own, over the whole survey) a point is withheld where its wave's decision
    withholds `place`'s total (None: the wave's), whatever other waves are shown."""
    scores = construct_scores(responses, codebook) if scores is None else scores
    table = construct_counts(responses, codebook, waves, k, min_organisations, scores)
    if decisions is not None:
        reasons = pd.DataFrame([[decisions[w].reason(c, place) or "" for w in waves] for c in scores.columns],
                               index=scores.columns, columns=waves)
        table = replace(table, suppressed=reasons != "", reasons=reasons)
    in_waves = responses["wave"].isin(waves)
    grouped = scores[in_waves].groupby(responses.loc[in_waves, "wave"])
    means, sds = grouped.mean().T, grouped.std(ddof=1).T
    result = {}
    for construct in scores.columns:
        points = []
        for wave in waves:
            n = int(table.counts.at[construct, wave])
            if table.suppressed.at[construct, wave] or n == 0:
                points.append(TrendPoint(wave, None if n else 0, None, None, table.reasons.at[construct, wave] or None))
                continue
            mean, sd = float(means.at[construct, wave]), float(sds.at[construct, wave])
            ci = None
            if n > 1 and sd > 0:
                low, high = stats.t.interval(CI_LEVEL, n - 1, loc=mean, scale=sd / np.sqrt(n))
                ci = (float(low), float(high))
            elif n > 1:
                ci = (mean, mean)
            points.append(TrendPoint(wave, n, mean, ci, None))
        result[construct] = tuple(points)
    return result
