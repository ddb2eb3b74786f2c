"""Wave comparison: is each construct improving, holding, slipping, or can't we tell?

Follows the Statistics section of DESIGN.md. Pure: a tidy responses DataFrame and a
codebook in (see surveys.service.responses_frame), frozen dataclasses out.

Tests and intervals come from scipy (Welch's t-test), multiplicity from statsmodels
(Holm), power from statsmodels; only the stratified (post-stratified) mean and
Cronbach's alpha are written by hand, as no maintained library offers them for this shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower

from analysis.disclosure import K_INTERNAL, MIN_ORGANISATIONS, disclose, organisations_where_known
from analysis.scores import construct_scores, reverse_scored

ALPHA = 0.05
CI_LEVEL = 0.90
POWER = 0.80
DEFAULT_MARGIN = 0.25
DEFAULT_MIN_N = 10
VERDICTS = ("improving", "holding", "slipping", "cant_tell", "too_few")


@dataclass(frozen=True)
class WaveSummary:
    n: int
    mean: float | None
    sd: float | None


@dataclass(frozen=True)
class Shift:
    """A difference between waves with its 90% CI (adjusted or paired results)."""

    difference: float
    ci90: tuple[float, float]
    verdict: str | None = None
    n_pairs: int | None = None


@dataclass(frozen=True)
class ConstructComparison:
    construct: str
    margin: float
    reference: WaveSummary
    current: WaveSummary
    difference: float | None
    ci90: tuple[float, float] | None
    hedges_g: float | None
    p_improve: float | None
    p_noninferior: float | None
    p_decline: float | None
    p_improve_adj: float | None
    p_noninferior_adj: float | None
    p_decline_adj: float | None
    verdict: str
    dip_within_margin: bool
    material: bool
    gain_retained: bool | None
    needed_n: int | None
    adjusted: Shift | None
    panel: Shift | None
    alpha_reference: float | None
    alpha_current: float | None

    @property
    def adjusted_disagrees(self) -> bool:
        return self.adjusted is not None and self.adjusted.verdict is not None and self.adjusted.verdict != self.verdict


@dataclass(frozen=True)
class Comparison:
    reference: str
    current: str
    baseline: str | None
    alpha: float
    constructs: tuple[ConstructComparison, ...]


class ComparisonInputError(ValueError):
    """The data cannot be compared as asked; the message says why in one line."""


def compare(
    responses: pd.DataFrame,
    codebook: pd.DataFrame,
    reference: str,
    current: str,
    baseline: str | None = None,
    margins: dict[str, float] | None = None,
    min_n: int = DEFAULT_MIN_N,
    alpha: float = ALPHA,
    scores: pd.DataFrame | None = None,
) -> Comparison:
    """Compare the current wave with the reference wave (where the gain was seen),
    construct by construct, with Holm adjustment across constructs in each family.
    `scores` may pass in construct_scores(responses, codebook) already computed."""
    responses = check_inputs(responses, codebook, [reference, current] + ([baseline] if baseline else []))
    scores = construct_scores(responses, codebook) if scores is None else scores
    constructs = list(scores.columns)
    margins = {c: (margins or {}).get(c, DEFAULT_MARGIN) for c in constructs}
    wave = responses["wave"]
    rows = {}
    for construct in constructs:
        r = scores.loc[wave == reference, construct].dropna()
        c = scores.loc[wave == current, construct].dropna()
        rows[construct] = _raw_tests(r, c, margins[construct], min_n)
    testable = [k for k in constructs if rows[k]["tested"]]
    adjusted = {
        family: dict(zip(testable, _holm([rows[k][family] for k in testable])))
        for family in ("p_improve", "p_noninferior", "p_decline")
    }
    retained = _gain_retained(scores, wave, baseline, current, testable, min_n, alpha) if baseline else {}
    composition = _composition_adjusted(scores, responses, reference, current, margins, testable, min_n, alpha)
    panel = _panel_pairs(scores, responses, reference, current)
    items = codebook["item"].tolist()
    alphas = {label: cronbach_alphas(responses.loc[wave == label, items], codebook) for label in (reference, current)}

    results = []
    for construct in constructs:
        row = rows[construct]
        p_adj = {family: adjusted[family].get(construct) for family in adjusted}
        verdict, dip, material = decide(
            row["tested"], p_adj["p_improve"], p_adj["p_noninferior"], p_adj["p_decline"],
            row["difference"], margins[construct], alpha,
        )
        results.append(
            ConstructComparison(
                construct=construct,
                margin=margins[construct],
                reference=row["reference"],
                current=row["current"],
                difference=row["difference"],
                ci90=row["ci90"],
                hedges_g=row["hedges_g"],
                p_improve=row["p_improve"],
                p_noninferior=row["p_noninferior"],
                p_decline=row["p_decline"],
                p_improve_adj=p_adj["p_improve"],
                p_noninferior_adj=p_adj["p_noninferior"],
                p_decline_adj=p_adj["p_decline"],
                verdict=verdict,
                dip_within_margin=dip,
                material=material,
                gain_retained=retained.get(construct),
                needed_n=needed_n(margins[construct], row["pooled_sd"]) if row["tested"] else None,
                adjusted=composition.get(construct),
                panel=panel.get(construct),
                alpha_reference=alphas[reference].get(construct),
                alpha_current=alphas[current].get(construct),
            )
        )
    return Comparison(reference, current, baseline, alpha, tuple(results))


def check_inputs(responses: pd.DataFrame, codebook: pd.DataFrame, waves: list[str]) -> pd.DataFrame:
    """Refuse data that cannot be compared, with one line saying why; return the responses
    with `wave` as a categorical, so the many comparisons with a wave label are cheap."""
    for column in ("response_id", "wave", "sector"):
        if column not in responses.columns:
            raise ComparisonInputError(f"the responses have no '{column}' column")
    for column in ("item", "construct", "reverse", "min", "max"):
        if column not in codebook.columns:
            raise ComparisonInputError(f"the codebook has no '{column}' column")
    unknown = [item for item in codebook["item"] if item not in responses.columns]
    if unknown:
        raise ComparisonInputError(f"the codebook names items not in the responses: {', '.join(unknown)}")
    wave = responses["wave"].astype(str).astype("category") if responses["wave"].dtype != "category" else responses["wave"]
    present = set(wave.unique())
    missing = [w for w in waves if w not in present]
    if missing:
        raise ComparisonInputError(f"wave '{missing[0]}' is not in the responses")
    items = codebook["item"].tolist()
    for item in items:
        if not pd.api.types.is_numeric_dtype(responses[item]):
            values = pd.to_numeric(responses[item], errors="coerce")
            if values.isna().sum() != responses[item].isna().sum():
                raise ComparisonInputError(f"item '{item}' has values that are not numbers")
    values = responses[items].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    low, high = codebook["min"].to_numpy(dtype=float), codebook["max"].to_numpy(dtype=float)
    outside = (values < low) | (values > high)  # NaN compares False: missing is allowed
    if outside.any():
        row, column = np.argwhere(outside)[0]
        raise ComparisonInputError(
            f"item '{items[column]}' has a value {values[row, column]:g} outside {low[column]:g}..{high[column]:g}"
        )
    return responses.assign(wave=wave)


def welch(mean_c, var_c, n_c, mean_r, var_r, n_r):
    """Welch's difference, standard error and Welch–Satterthwaite degrees of freedom from
    summary statistics (scalars or arrays). Written out because scipy gives these only
    inside ttest_ind, whose per-call overhead dominates a grid of a hundred small cells;
    tests check the results against scipy.stats.ttest_ind."""
    mean_c, var_c, n_c, mean_r, var_r, n_r = (
        np.asarray(v, dtype=float) for v in (mean_c, var_c, n_c, mean_r, var_r, n_r))
    share_c, share_r = var_c / n_c, var_r / n_r
    se = np.sqrt(share_c + share_r)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (share_c + share_r) ** 2 / (share_c**2 / (n_c - 1) + share_r**2 / (n_r - 1))
    df = np.where(np.isfinite(df), df, np.inf)  # no spread at all: the normal limit
    return mean_c - mean_r, se, df


def welch_interval(difference, se, df, level: float = CI_LEVEL):
    half = stats.t.ppf(0.5 + level / 2, df) * se
    return difference - half, difference + half


def _summary(values: np.ndarray) -> WaveSummary:
    n = int(values.size)
    return WaveSummary(n, float(values.mean()) if n else None, float(values.std(ddof=1)) if n > 1 else None)


def _t(shift: float, se: float) -> float:
    """A test statistic that stays defined when nobody's answers vary (se = 0): then any
    shift at all is certain, and none is no evidence either way."""
    if se > 0:
        return shift / se
    return float(np.copysign(np.inf, shift)) if shift else 0.0


def _raw_tests(r, c, margin: float, min_n: int) -> dict:
    r, c = np.asarray(r, dtype=float), np.asarray(c, dtype=float)  # numpy: ~100 cells per breakdown
    result = {"reference": _summary(r), "current": _summary(c), "tested": False, "difference": None,
              "ci90": None, "hedges_g": None, "p_improve": None, "p_noninferior": None, "p_decline": None,
              "pooled_sd": None}
    if len(r) < min_n or len(c) < min_n:
        return result  # too few: no test is shown
    var_c, var_r = c.var(ddof=1), r.var(ddof=1)
    difference, se, df = welch(c.mean(), var_c, len(c), r.mean(), var_r, len(r))
    difference, se, df = float(difference), float(se), float(df)
    low, high = welch_interval(difference, se, df)
    pooled_sd = np.sqrt(((len(c) - 1) * var_c + (len(r) - 1) * var_r) / (len(c) + len(r) - 2))
    correction = 1 - 3 / (4 * (len(c) + len(r)) - 9)
    # The one-sided p-values use Welch's standard error and degrees of freedom; the
    # non-inferiority test shifts the difference by the margin.
    t_zero, t_margin = _t(difference, se), _t(difference + margin, se)
    result.update(
        tested=True,
        difference=difference,
        ci90=(float(low), float(high)),
        hedges_g=float(correction * difference / pooled_sd) if pooled_sd > 0 else None,
        p_improve=float(stats.t.sf(t_zero, df)),
        # Non-inferiority: H0 d ≤ −Δ against H1 d > −Δ.
        p_noninferior=float(stats.t.sf(t_margin, df)),
        p_decline=float(stats.t.cdf(t_zero, df)),
        pooled_sd=float(pooled_sd),
    )
    return result


def judge(reference: pd.Series, current: pd.Series, margin: float, min_n: int = DEFAULT_MIN_N, alpha: float = ALPHA) -> str:
    """The verdict for one construct on its own (Holm over a single test changes nothing)."""
    row = _raw_tests(reference, current, margin, min_n)
    return decide(row["tested"], row["p_improve"], row["p_noninferior"], row["p_decline"],
                  row["difference"], margin, alpha)[0]


def needed_n(margin: float, sd: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Responses per wave that would confirm 'holding' at the margin with 80% power, if
    the true change were zero (one-sided non-inferiority t-test, unadjusted α): the
    smallest n whose statsmodels power reaches the target. The normal approximation
    gives the starting point, so only a step or two of the t-based power is needed."""
    if not sd or not np.isfinite(sd) or sd <= 0:
        return None
    effect = margin / sd
    analysis = TTestIndPower()
    reaches = lambda n: analysis.power(effect_size=effect, nobs1=n, alpha=alpha, ratio=1, alternative="larger") >= power  # noqa: E731
    n = max(2, int(np.ceil(2 * ((stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) / effect) ** 2)))
    while not reaches(n):
        n += 1
    while n > 2 and reaches(n - 1):
        n -= 1
    return n


def _holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values: sorted, multiplied by m, m−1, …, 1, made
    non-decreasing, capped at 1. Written out because statsmodels' multipletests runs
    gc.collect() on every Holm call, which costs more than the comparison itself (tests
    check this against multipletests)."""
    if not p_values:
        return []
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1)), 1.0)
    adjusted = np.empty_like(stepped)
    adjusted[order] = stepped
    return adjusted.tolist()


def decide(tested: bool, p_improve_adj, p_noninferior_adj, p_decline_adj, difference, margin, alpha=ALPHA):
    """The verdict, first match wins (DESIGN.md): (verdict, dip within margin, material)."""
    if not tested:
        return "too_few", False, False
    if p_improve_adj < alpha:
        return "improving", False, False
    if p_noninferior_adj < alpha:
        return "holding", bool(p_decline_adj < alpha), False
    if p_decline_adj < alpha:
        return "slipping", False, bool(difference < -margin)
    return "cant_tell", False, False


def _gain_retained(scores, wave, baseline, current, testable, min_n, alpha) -> dict[str, bool | None]:
    p_values, names = [], []
    for construct in testable:
        b = scores.loc[wave == baseline, construct].dropna()
        c = scores.loc[wave == current, construct].dropna()
        if len(b) >= min_n and len(c) >= min_n:
            p_values.append(stats.ttest_ind(c, b, equal_var=False, alternative="greater").pvalue)
            names.append(construct)
    return {name: bool(p < alpha) for name, p in zip(names, _holm(p_values))}


def _stratified(values: pd.Series, strata: pd.Series, weights: pd.Series) -> tuple[float, float] | None:
    """Post-stratified mean and its variance: Σ w_s·mean_s and Σ w_s²·var_s/n_s over the
    strata in `weights` (a stratum missing from the current wave cannot be reweighted)."""
    grouped = values.groupby(strata)
    means, variances, counts = grouped.mean(), grouped.var(ddof=1), grouped.count()
    if not set(weights.index) <= set(counts[counts > 1].index):
        return None
    w = weights / weights.sum()
    mean = float((w * means.reindex(w.index)).sum())
    variance = float((w**2 * variances.reindex(w.index) / counts.reindex(w.index)).sum())
    return mean, variance


def _composition_adjusted(scores, responses, reference, current, margins, testable, min_n, alpha) -> dict[str, Shift]:
    """The current wave reweighted to the reference wave's sector mix, beside the raw result."""
    wave, sector = responses["wave"], responses["sector"]
    rows = {}
    for construct in testable:
        r = scores.loc[wave == reference, construct]
        c = scores.loc[wave == current, construct]
        r_sectors, c_sectors = sector[r.index][r.notna()], sector[c.index][c.notna()]
        weights = r_sectors.value_counts()
        stratified = _stratified(c.dropna(), c_sectors, weights)
        if stratified is None:
            continue
        mean_c, var_c = stratified
        r = r.dropna()
        difference = mean_c - float(r.mean())
        se = np.sqrt(var_c + r.var(ddof=1) / len(r))
        z = stats.norm.ppf(0.5 + CI_LEVEL / 2)
        rows[construct] = (difference, se, (difference - z * se, difference + z * se))
    # Same tests and Holm families as the raw result, on the normal approximation.
    names = list(rows)
    p = {
        "improve": [stats.norm.sf(_t(rows[k][0], rows[k][1])) for k in names],
        "noninferior": [stats.norm.sf(_t(rows[k][0] + margins[k], rows[k][1])) for k in names],
        "decline": [stats.norm.cdf(_t(rows[k][0], rows[k][1])) for k in names],
    }
    adjusted = {family: _holm(values) for family, values in p.items()}
    result = {}
    for i, construct in enumerate(names):
        difference, _, ci = rows[construct]
        verdict, _, _ = decide(True, adjusted["improve"][i], adjusted["noninferior"][i], adjusted["decline"][i],
                               difference, margins[construct], alpha)
        result[construct] = Shift(float(difference), (float(ci[0]), float(ci[1])), verdict)
    return result


def _panel_pairs(scores, responses, reference, current) -> dict[str, Shift]:
    """Paired differences for panel members who answered both waves (a sensitivity check)."""
    if "panel_key" not in responses.columns:
        return {}
    members = responses["panel_key"].notna() & responses["wave"].isin([reference, current])
    if not members.any():
        return {}
    keys = [responses.loc[members, "panel_key"], responses.loc[members, "wave"].astype(str)]
    wide = scores[members].groupby(keys).mean().unstack()  # columns: (construct, wave)
    result = {}
    for construct in scores.columns:
        if (construct, reference) not in wide or (construct, current) not in wide:
            continue
        pairs = (wide[(construct, current)] - wide[(construct, reference)]).dropna()
        if len(pairs) < 2:
            continue
        if pairs.nunique() == 1:  # everyone moved alike: no spread, the interval is the point
            low = high = float(pairs.iloc[0])
        else:
            low, high = stats.ttest_1samp(pairs, 0).confidence_interval(CI_LEVEL)
        result[construct] = Shift(float(pairs.mean()), (float(low), float(high)), n_pairs=int(len(pairs)))
    return result


def cronbach_alphas(responses: pd.DataFrame, codebook: pd.DataFrame) -> dict[str, float]:
    """Cronbach's alpha per construct, on complete answers (by hand: k/(k−1)·(1 − Σvar_i/var_total))."""
    scored = reverse_scored(responses, codebook)
    items = codebook[codebook["construct"].notna()]
    result = {}
    for construct, group in items.groupby("construct", sort=False):
        complete = scored[group["item"].tolist()].dropna()
        k = complete.shape[1]
        if k < 2 or len(complete) < 3:
            continue
        total_variance = complete.sum(axis=1).var(ddof=1)
        if total_variance > 0:
            result[construct] = float(k / (k - 1) * (1 - complete.var(ddof=1).sum() / total_variance))
    return result


@dataclass(frozen=True)
class Suppressed:
    construct: str
    suppressed: bool = True
    reason: str = ""  # the words a page shows, e.g. "fewer than 5 responses"


def compare_by(
    responses: pd.DataFrame,
    codebook: pd.DataFrame,
    by: str,
    reference: str,
    current: str,
    margins: dict[str, float] | None = None,
    min_n: int = DEFAULT_MIN_N,
    k: int = K_INTERNAL,
    alpha: float = ALPHA,
    min_organisations: int = MIN_ORGANISATIONS,
    scores: pd.DataFrame | None = None,
) -> dict[str, tuple[ConstructComparison | Suppressed, ...]]:
    """The same comparison within each group (e.g. sector), only where both waves' cells
    pass the disclosure rules (k responses, and `min_organisations` organisations where
    every response names one); Benjamini–Hochberg across the whole grid of tests."""
    if by not in responses.columns:
        raise ComparisonInputError(f"the responses have no '{by}' column to break down by")
    responses = check_inputs(responses, codebook, [reference, current])
    scores = construct_scores(responses, codebook) if scores is None else scores
    margins = {c: (margins or {}).get(c, DEFAULT_MARGIN) for c in scores.columns}
    wave, group = responses["wave"], responses[by].astype(str).astype("category")
    grid: dict[tuple[str, str], dict] = {}
    withheld: dict[tuple[str, str], str] = {}
    in_waves = wave.isin([reference, current])
    groups = sorted(group[in_waves].dropna().unique())
    empty = np.array([], dtype=float)
    # Only the columns the disclosure rules need: copying every item column for each
    # construct would cost more than the tests.
    keys = responses[["wave"] + (["organisation"] if "organisation" in responses.columns else [])].assign(group=group)
    for construct in scores.columns:
        answered = scores[construct].notna() & in_waves
        split = {
            key: values.to_numpy()
            for key, values in scores.loc[answered, construct].groupby([group[answered], wave[answered]], observed=True)
        }
        # Every group, so one with no answers to this construct is withheld rather than missing.
        counts = pd.DataFrame([[len(split.get((name, w), empty)) for w in (reference, current)] for name in groups],
                              index=groups, columns=[reference, current])
        organisations = organisations_where_known(keys[answered], "group", "wave")
        table = disclose(counts, k, organisations, min_organisations)
        for name in counts.index:
            reasons = [reason for reason in table.reasons.loc[name] if reason]
            if reasons or counts.loc[name].min() < k:  # a wave with no responses at all is too few too
                withheld[(name, construct)] = reasons[0] if reasons else table.message
            r, c = split.get((name, reference), empty), split.get((name, current), empty)
            grid[(name, construct)] = _raw_tests(r, c, margins[construct], min_n)
    testable = [key for key, row in grid.items() if key not in withheld and row["tested"]]
    adjusted = {
        family: dict(zip(testable, multipletests([grid[key][family] for key in testable], method="fdr_bh")[1]))
        if testable else {}
        for family in ("p_improve", "p_noninferior", "p_decline")
    }
    result: dict[str, list] = {}
    for (name, construct), row in grid.items():
        if (name, construct) in withheld:
            result.setdefault(name, []).append(Suppressed(construct, reason=withheld[(name, construct)]))
            continue
        p_adj = {family: adjusted[family].get((name, construct)) for family in adjusted}
        verdict, dip, material = decide(row["tested"], p_adj["p_improve"], p_adj["p_noninferior"],
                                        p_adj["p_decline"], row["difference"], margins[construct], alpha)
        result.setdefault(name, []).append(ConstructComparison(
            construct=construct, margin=margins[construct], reference=row["reference"], current=row["current"],
            difference=row["difference"], ci90=row["ci90"], hedges_g=row["hedges_g"],
            p_improve=row["p_improve"], p_noninferior=row["p_noninferior"], p_decline=row["p_decline"],
            p_improve_adj=p_adj["p_improve"], p_noninferior_adj=p_adj["p_noninferior"],
            p_decline_adj=p_adj["p_decline"], verdict=verdict, dip_within_margin=dip, material=material,
            gain_retained=None, needed_n=needed_n(margins[construct], row["pooled_sd"]) if row["tested"] else None,
            adjusted=None, panel=None,
            alpha_reference=None, alpha_current=None,
        ))
    order = list(scores.columns)
    return {name: tuple(sorted(rows, key=lambda r: order.index(r.construct))) for name, rows in sorted(result.items())}
