"""Construct scores per respondent (DESIGN.md, Statistics): reverse-score, then average.

Pure: a tidy responses DataFrame and a codebook in, a DataFrame out.
"""

from __future__ import annotations

import pandas as pd


def reverse_scored(responses: pd.DataFrame, codebook: pd.DataFrame) -> pd.DataFrame:
    """Item answers with reverse-worded items turned round (min + max − x), so that for
    every item a higher number is the healthier answer."""
    items = codebook[codebook["construct"].notna()]
    scored = responses[items["item"].tolist()].astype(float)
    reverse = items[items["reverse"].astype(bool)]
    for item, low, high in zip(reverse["item"], reverse["min"], reverse["max"]):
        scored[item] = low + high - scored[item]
    return scored


def construct_scores(responses: pd.DataFrame, codebook: pd.DataFrame) -> pd.DataFrame:
    """One column per construct (in codebook order): the mean of its items after
    reverse-scoring, or missing when fewer than half of its items were answered."""
    scored = reverse_scored(responses, codebook)
    items = codebook[codebook["construct"].notna()]
    constructs = list(dict.fromkeys(items["construct"]))
    by_construct = items.groupby("construct", sort=False)["item"].apply(list)
    scores = {}
    for construct in constructs:
        columns = scored[by_construct[construct]]
        enough = columns.notna().sum(axis=1) * 2 >= len(by_construct[construct])
        scores[construct] = columns.mean(axis=1).where(enough)
    return pd.DataFrame(scores, index=responses.index)
