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

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.compare import welch, welch_interval
from analysis.disclosure import K_INTERNAL, MIN_ORGANISATIONS, WITHHELD, disclose

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
    sectors = tuple(sorted(_present(trust["sector"], wanted) | _present(trust["target_sector"], wanted)))
    if not sectors:  # no trust questions, or nobody answered them
        return TrustNetwork(reference, current, (), tuple(TrustWave(label, (), None, 0) for label in waves), ())
    raters = _rater_means(trust, wanted, sectors, waves)
    size = len(sectors) ** 2
    grid = pd.MultiIndex.from_product([sectors, sectors])
    shown_stats: dict[str, pd.DataFrame] = {}
    results = []
    for number, label in enumerate(waves):
        here = raters["wave"] == number
        block = raters["sector"][here] * len(sectors) + raters["target"][here]
        values = raters["value"][here]
        n = np.bincount(block, minlength=size)
        total = np.bincount(block, weights=values, minlength=size)
        squares = np.bincount(block, weights=values**2, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n
            variance = (squares - total**2 / n) / (n - 1)
        stats_here = pd.DataFrame({"count": n, "mean": mean, "var": variance}, index=grid)
        counts = pd.DataFrame(n.reshape(len(sectors), -1), index=sectors, columns=sectors)
        organisations = None
        if "organisation" in raters:
            organisations = pd.DataFrame(
                _organisations(block, raters["organisation"][here], size).reshape(len(sectors), -1),
                index=sectors, columns=sectors,
            )
        table = disclose(counts, k, organisations, min_organisations, complements=False)
        visible = (n > 0) & ~table.suppressed.to_numpy().ravel()
        shown = stats_here[visible]
        shown_stats[label] = shown
        cells = [
            TrustBlock(rater, target, int(n[i]), float(mean[i]) if visible[i] else None,
                       table.reasons.at[rater, target] or None)
            for i, (rater, target) in enumerate(grid)
        ]
        cross = shown[shown.index.get_level_values(0) != shown.index.get_level_values(1)]
        density = float((cross["mean"] >= HIGH_TRUST).mean()) if len(cross) else None
        results.append(TrustWave(label, tuple(cells), density, int(len(cross))))

    changes = _pair_changes(shown_stats.get(reference), shown_stats.get(current))
    return TrustNetwork(reference, current, sectors, tuple(results), changes)


def withhold_blocks(network: TrustNetwork, hidden: set[tuple[str, str, str]]) -> TrustNetwork:
    """The network with these (wave, rater, target) blocks withheld as complements, its
    density recounted and their changes dropped."""
    waves = []
    for wave in network.waves:
        blocks = tuple(
            replace(b, mean=None, withheld=WITHHELD) if (wave.wave, b.rater, b.target) in hidden and not b.withheld else b
            for b in wave.blocks
        )
        cross = [b.mean for b in blocks if b.mean is not None and b.rater != b.target]
        density = float(np.mean([m >= HIGH_TRUST for m in cross])) if cross else None
        waves.append(TrustWave(wave.wave, blocks, density, len(cross)))
    gone = {(r, t) for w, r, t in hidden if w in (network.reference, network.current)}
    changes = tuple(c for c in network.changes if (c.rater, c.target) not in gone)
    return replace(network, waves=tuple(waves), changes=changes)


def _present(column: pd.Series, wanted: np.ndarray) -> set[str]:
    """The distinct values among the wanted rows (a categorical counts its codes)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()[wanted]
        seen = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories)) > 0
        return set(column.cat.categories[seen])
    return set(column[wanted].dropna().unique())


def _rater_means(trust: pd.DataFrame, wanted: np.ndarray, sectors: tuple[str, ...], waves: list[str]) -> dict:
    """Each rater's mean over the trust dimensions for each target sector, as integer-coded
    arrays (`wave`, `sector`, `target`, `value`, and `organisation` where the frame has
    it, −1 where unknown). Ratings can run to tens of millions of rows, so this is a
    bincount over integer codes rather than a group-by on four keys; a rater's wave,
    sector and organisation are the same on every row, so they come from its first row."""
    values = pd.to_numeric(trust["value"], errors="coerce").to_numpy(dtype=float)
    target_codes = _codes(trust["target_sector"], sectors)
    usable = wanted & (target_codes >= 0) & ~np.isnan(values)
    everything = bool(usable.all())  # then no copies are needed at all
    ids = trust["response_id"].to_numpy()
    if not everything:
        ids, target_codes, values = ids[usable], target_codes[usable], values[usable]
    if len(ids) and pd.Series(ids).is_monotonic_increasing:
        # Ratings stored rater by rater (surveys.service orders them): number the raters
        # by counting where the id changes, without hashing every row.
        starts = np.r_[True, ids[1:] != ids[:-1]]
        rater_codes = np.cumsum(starts) - 1
        first = np.flatnonzero(starts)
    else:
        rater_codes, _ = pd.factorize(ids)
        # factorize numbers raters in order of first appearance, so a rater's first row
        # is where the running maximum of the codes steps up.
        running_max = np.maximum.accumulate(rater_codes) if len(ids) else rater_codes
        first = np.flatnonzero(np.r_[True, rater_codes[1:] > running_max[:-1]]) if len(ids) else rater_codes
    keys = rater_codes * len(sectors) + target_codes
    size = len(first) * len(sectors)
    counts = np.bincount(keys, minlength=size)
    sums = np.bincount(keys, weights=values, minlength=size)
    rated = np.flatnonzero(counts)
    rows = first[rated // len(sectors)]
    rows = rows if everything else np.flatnonzero(usable)[rows]
    result = {
        "wave": _codes(trust["wave"], tuple(waves))[rows],
        "sector": _codes(trust["sector"], sectors)[rows],
        "target": rated % len(sectors),
        "value": sums[rated] / counts[rated],
    }
    if "organisation" in trust.columns:
        organisation = trust["organisation"]
        result["organisation"] = (
            organisation.cat.codes.to_numpy()[rows].astype(np.int64)
            if isinstance(organisation.dtype, pd.CategoricalDtype)
            else pd.factorize(organisation.to_numpy()[rows])[0]
        )
    return result


def _organisations(block: np.ndarray, organisation: np.ndarray, size: int) -> np.ndarray:
    """Distinct organisations per block, NaN where a rater's organisation is unknown: the
    rule of analysis.disclosure.distinct_organisations, on integer codes."""
    unknown = np.bincount(block, weights=organisation < 0, minlength=size) > 0
    known = organisation >= 0
    kinds = int(organisation.max()) + 1 if known.any() else 1
    pairs = np.bincount(block[known] * kinds + organisation[known], minlength=size * kinds)
    distinct = (pairs.reshape(size, kinds) > 0).sum(axis=1).astype(float)
    distinct[unknown] = np.nan
    return distinct


def _codes(column: pd.Series, names: tuple[str, ...]) -> np.ndarray:
    """Each row's position in `names` (−1 if absent). A categorical column maps its few
    categories instead of looking up every one of millions of strings."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        position = {name: i for i, name in enumerate(names)}
        mapping = np.array([position.get(name, -1) for name in column.cat.categories] + [-1], dtype=np.int64)
        return mapping[column.cat.codes.to_numpy()]  # code −1 (missing) picks the final −1
    return pd.Categorical(column, categories=list(names)).codes.astype(np.int64)


def _pair_changes(reference: pd.DataFrame | None, current: pd.DataFrame | None) -> tuple[PairChange, ...]:
    """Welch's difference and 90% CI per pair from the blocks' summary statistics."""
    if reference is None or current is None:
        return ()
    both = reference.join(current, how="inner", suffixes=("_r", "_c"))
    both = both[(both["count_r"] > 1) & (both["count_c"] > 1)]
    if both.empty:
        return ()
    difference, se, df = welch(both["mean_c"], both["var_c"], both["count_c"],
                               both["mean_r"], both["var_r"], both["count_r"])
    low, high = welch_interval(difference, se, df)
    order = np.argsort(-np.abs(difference), kind="stable")
    return tuple(
        PairChange(both.index[i][0], both.index[i][1], float(both["mean_r"].iloc[i]), float(both["mean_c"].iloc[i]),
                   float(difference[i]), (float(low[i]), float(high[i])))
        for i in order
    )
