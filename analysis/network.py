"""The trust network: how much each sector trusts each other sector, wave by wave.

Pure: the long trust frame of surveys.service.responses_frame (`response_id, wave,
sector, target_sector, dimension, value`, optionally `organisation`) in, frozen
dataclasses out.

A rater's trust in a sector is the mean of their answers on the three trust
dimensions (1 "Not at all" to 4 "Completely"); how closely they work together is a
different scale and is left out. A block (rater sector × target sector) shows the mean
over its raters, and is withheld by `disclose` when it has fewer than k raters (or
too few organisations, where known). Density is the share of cross-sector pairs shown
whose mean is at least 3 ("Mostly").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.compare import CI_LEVEL
from analysis.disclosure import K_INTERNAL, MIN_ORGANISATIONS, disclose, organisations_where_known

TRUST_SCALE_DIMENSIONS = ("reliable", "shared_mission", "open")
HIGH_TRUST = 3.0


@dataclass(frozen=True)
class TrustBlock:
    rater: str
    target: str
    raters: int
    mean: float | None  # None where withheld or nobody rated
    withheld: str | None  # the words a page shows, e.g. "fewer than 5 responses"


@dataclass(frozen=True)
class TrustWave:
    wave: str
    blocks: tuple[TrustBlock, ...]
    density: float | None  # share of cross-sector pairs shown with mean ≥ 3
    pairs_shown: int

    def block(self, rater: str, target: str) -> TrustBlock:
        return next(b for b in self.blocks if b.rater == rater and b.target == target)


@dataclass(frozen=True)
class PairChange:
    rater: str
    target: str
    reference_mean: float
    current_mean: float
    difference: float
    ci90: tuple[float, float]  # Welch


@dataclass(frozen=True)
class TrustNetwork:
    reference: str
    current: str
    sectors: tuple[str, ...]
    waves: tuple[TrustWave, ...]
    changes: tuple[PairChange, ...]  # pairs shown in both waves, largest move first

    def wave(self, label: str) -> TrustWave:
        return next(w for w in self.waves if w.wave == label)


def trust_network(
    trust: pd.DataFrame,
    waves: list[str],
    reference: str,
    current: str,
    k: int = K_INTERNAL,
    min_organisations: int = MIN_ORGANISATIONS,
) -> TrustNetwork:
    """Sector × sector mean trust for each wave, its density, and the change per pair
    from the reference wave to the current one."""
    wanted = (trust["dimension"].isin(TRUST_SCALE_DIMENSIONS) & trust["wave"].isin(waves)).to_numpy()
    sectors = tuple(sorted(
        set(trust.loc[wanted, "sector"].dropna().unique()) | set(trust.loc[wanted, "target_sector"].dropna().unique())
    ))
    per_rater = _rater_means(trust, wanted, sectors)
    blocks = per_rater.groupby(["wave", "sector", "target_sector"], observed=True)["value"].agg(["count", "mean", "var"])
    shown_stats: dict[str, pd.DataFrame] = {}
    results = []
    for label in waves:
        in_wave = per_rater[per_rater["wave"] == label]
        stats_here = blocks.loc[label] if label in blocks.index.get_level_values(0) else blocks.iloc[0:0].droplevel(0)
        counts = stats_here["count"].unstack().reindex(index=sectors, columns=sectors).fillna(0)
        organisations = organisations_where_known(in_wave, "sector", "target_sector")
        table = disclose(counts, k, organisations, min_organisations, complements=False)
        shown = stats_here[~stats_here.index.map(lambda pair: bool(table.suppressed.loc[pair]))]
        shown_stats[label] = shown
        cells = []
        for rater in sectors:
            for target in sectors:
                raters = int(counts.loc[rater, target])
                withheld = table.reasons.loc[rater, target] or None
                mean = float(shown.loc[(rater, target), "mean"]) if (rater, target) in shown.index else None
                cells.append(TrustBlock(rater, target, raters, mean, withheld))
        cross = shown[shown.index.get_level_values(0) != shown.index.get_level_values(1)]
        density = float((cross["mean"] >= HIGH_TRUST).mean()) if len(cross) else None
        results.append(TrustWave(label, tuple(cells), density, int(len(cross))))

    changes = _pair_changes(shown_stats.get(reference), shown_stats.get(current))
    return TrustNetwork(reference, current, sectors, tuple(results), changes)


def _rater_means(trust: pd.DataFrame, wanted: np.ndarray, sectors: tuple[str, ...]) -> pd.DataFrame:
    """Each rater's mean over the trust dimensions for each target sector. Ratings can run
    to tens of millions of rows, so this is a bincount over integer codes rather than a
    group-by on four keys, on the `wanted` rows without copying the frame; a rater's
    wave, sector and organisation are the same on every row, so they are carried from
    the rater's first row."""
    ids = trust["response_id"].to_numpy()[wanted]
    if len(ids) and pd.Series(ids).is_monotonic_increasing:
        # Ratings stored rater by rater (surveys.service orders them): number the raters
        # by counting where the id changes, without hashing every row.
        starts = np.r_[True, ids[1:] != ids[:-1]]
        rater_codes = np.cumsum(starts) - 1
        raters = ids[starts]
        first = np.flatnonzero(starts)
    else:
        rater_codes, raters = pd.factorize(ids)
        # factorize numbers raters in order of first appearance, so a rater's first row
        # is where the running maximum of the codes steps up.
        running_max = np.maximum.accumulate(rater_codes) if len(ids) else rater_codes
        first = np.flatnonzero(np.r_[True, rater_codes[1:] > running_max[:-1]]) if len(ids) else rater_codes
    target_codes = pd.Categorical(trust["target_sector"].to_numpy()[wanted], categories=sectors).codes.astype(np.int64)
    keys = rater_codes.astype(np.int64) * len(sectors) + target_codes
    values = trust["value"].to_numpy(dtype=float)[wanted]
    answered = ~np.isnan(values) & (target_codes >= 0)
    size = len(raters) * len(sectors)
    counts = np.bincount(keys[answered], minlength=size)
    sums = np.bincount(keys[answered], weights=values[answered], minlength=size)
    rated = np.flatnonzero(counts)
    carried = ["wave", "sector"] + (["organisation"] if "organisation" in trust.columns else [])
    rows = np.flatnonzero(wanted)[first[rated // len(sectors)]]
    per_rater = trust[carried].iloc[rows].reset_index(drop=True)
    per_rater["response_id"] = np.asarray(raters)[rated // len(sectors)]
    per_rater["target_sector"] = np.asarray(sectors, dtype=object)[rated % len(sectors)]
    per_rater["value"] = sums[rated] / counts[rated]
    return per_rater


def _pair_changes(reference: pd.DataFrame | None, current: pd.DataFrame | None) -> tuple[PairChange, ...]:
    """Welch's difference and 90% CI per pair from the blocks' summary statistics
    (scipy has no interval for summary statistics, so the Welch–Satterthwaite degrees of
    freedom are written out here)."""
    if reference is None or current is None:
        return ()
    both = reference.join(current, how="inner", suffixes=("_r", "_c"))
    both = both[(both["count_r"] > 1) & (both["count_c"] > 1)]
    if both.empty:
        return ()
    vr, vc = both["var_r"] / both["count_r"], both["var_c"] / both["count_c"]
    se = np.sqrt(vr + vc)
    df = (vr + vc) ** 2 / (vr**2 / (both["count_r"] - 1) + vc**2 / (both["count_c"] - 1))
    difference = both["mean_c"] - both["mean_r"]
    half = stats.t.ppf(0.5 + CI_LEVEL / 2, df.fillna(np.inf)) * se
    order = difference.abs().sort_values(ascending=False, kind="stable").index
    return tuple(
        PairChange(
            rater, target, float(both.at[(rater, target), "mean_r"]), float(both.at[(rater, target), "mean_c"]),
            float(difference[(rater, target)]),
            (float(difference[(rater, target)] - half[(rater, target)]),
             float(difference[(rater, target)] + half[(rater, target)])),
        )
        for rater, target in order
    )
