"""Wave comparison: is each construct improving, holding, slipping, or can't we tell?

Follows the Statistics section of docs/statistics.md. Pure: a tidy responses DataFrame
and a codebook in (see surveys.service.responses_frame), frozen dataclasses out.

Each difference and its reference distribution come from analysis.inference (Welch,
Derrick's partially-overlapping t where panel pairs link the waves, or a studentized
permutation distribution for small or unbalanced waves). Verdicts are read off
simultaneous intervals: across the m constructs compared, each one-sided bound at α/m
(Bonferroni), so the interval shown beside a verdict always agrees with it. Power comes
from statsmodels (imported when first needed: the command line starts faster without
it); Cronbach's alpha is written by hand, as no maintained library offers it for this
shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.disclosure import (
    K_INTERNAL, MIN_ORGANISATIONS, NOT_GIVEN, WaveDecision, decide_waves, disclose, organisations_where_known,
)
from analysis.inference import MIN_PAIRS, Estimate, Waves, estimate
from analysis.scores import construct_scores, reverse_scored

ALPHA = 0.05
CI_LEVEL = 0.90
POWER = 0.80
DEFAULT_MARGIN = 0.25
DEFAULT_MIN_N = 10
# The fewest responses per wave for which the calibration grid (docs/statistics.md)
# shows the verdicts keep their promises; below it every verdict is `too_few`.
SMALLEST_MIN_N = 10
VERDICTS = ("improving", "holding", "slipping", "cant_tell", "too_few")


@dataclass(frozen=True)
class WaveSummary:
    n: int
    mean: float | None
    sd: float | None


@dataclass(frozen=True)
class Shift:
    """A second look at a difference: the sector-mix-adjusted result (with the verdict
    the raw answers give on the same footing, and the sectors left out) or the panel's
    own paired change."""

    difference: float
    ci90: tuple[float, float]
    verdict: str | None = None
    n_pairs: int | None = None
    raw_verdict: str | None = None  # the unadjusted verdict, waves treated alike
    left_out: tuple[str, ...] = ()  # sectors too small to reweight, in either wave


@dataclass(frozen=True)
class ConstructComparison:
    construct: str
    margin: float
    reference: WaveSummary
    current: WaveSummary
    difference: float | None
    ci90: tuple[float, float] | None  # unadjusted: each one-sided bound at 5%
    ci_simultaneous: tuple[float, float] | None  # each bound at α/m: the verdict is read off this
    hedges_g: float | None
    p_improve: float | None
    p_noninferior: float | None
    p_decline: float | None
    p_improve_adj: float | None  # Bonferroni: min(1, m·p)
    p_noninferior_adj: float | None
    p_decline_adj: float | None
    verdict: str
    dip_within_margin: bool
    material: bool
    leaning: str | None  # "fall" or "rise": a can't-tell whose unadjusted interval excludes 0
    gain_retained: bool | None
    needed_n: int | None
    adjusted: Shift | None
    panel: Shift | None
    alpha_reference: float | None
    alpha_current: float | None
    method: str | None = None  # how the interval was found (analysis.inference)
    n_pairs: int = 0  # panel members in both waves whose pairing the test used

    @property
    def adjusted_disagrees(self) -> bool:
        return self.adjusted is not None and self.adjusted.verdict is not None \
            and self.adjusted.verdict != self.adjusted.raw_verdict


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
    withheld_strata: dict[str, set[str]] | None = None,
) -> Comparison:
    """Compare the current wave with the reference wave (where the gain was seen),
    construct by construct, with simultaneous intervals across the constructs tested.
    `scores` may pass in construct_scores(responses, codebook) already computed.
    `withheld_strata` names, per construct, the sectors disclosure withholds in either
    wave: the sector-mix check leaves them out, so no withheld group feeds it."""
    responses = check_inputs(responses, codebook, [reference, current] + ([baseline] if baseline else []))
    _check_settings(reference, current, baseline, margins, min_n)
    scores = construct_scores(responses, codebook) if scores is None else scores
    constructs = list(scores.columns)
    margins = {c: (margins or {}).get(c, DEFAULT_MARGIN) for c in constructs}
    panel = PanelKeys.of(responses)
    compared = {construct: panel.waves(scores[construct], reference, current) for construct in constructs}
    questions = _questions(codebook)
    tests = {construct: _tested(compared[construct], min_n, questions.get(construct)) for construct in constructs}
    m = sum(1 for t in tests.values() if t is not None and t.estimable)  # the constructs judged
    retained = _gain_retained(scores, panel, baseline, current, min_n, alpha, questions) if baseline else {}
    composition = _composition_adjusted(scores, responses, reference, current, margins, tests, min_n, alpha,
                                        withheld_strata or {})
    paired_only = _panel_pairs(compared)
    items = codebook["item"].tolist()
    wave = responses["wave"]
    alphas = {label: cronbach_alphas(responses.loc[wave == label, items], codebook) for label in (reference, current)}
    results = []
    for construct in constructs:
        r, c = (scores.loc[wave == label, construct].dropna().to_numpy() for label in (reference, current))
        results.append(_comparison(
            construct, margins[construct], r, c, tests[construct], m, alpha,
            gain_retained=retained.get(construct), adjusted=composition.get(construct),
            panel=paired_only.get(construct), alpha_reference=alphas[reference].get(construct),
            alpha_current=alphas[current].get(construct),
        ))
    return Comparison(reference, current, baseline, alpha, tuple(results))


def _check_settings(reference, current, baseline, margins, min_n) -> None:
    """Refuse settings no comparison can honour (the command line checks them too)."""
    if reference == current:
        raise ComparisonInputError("the reference and current waves must be different waves")
    if baseline is not None and baseline in (reference, current):
        raise ComparisonInputError("the baseline must be a third wave, not one of the waves compared")
    if min_n < SMALLEST_MIN_N:
        raise ComparisonInputError(f"the minimum number of responses must be at least {SMALLEST_MIN_N}")
    for name, margin in (margins or {}).items():
        if not (np.isfinite(margin) and margin > 0):
            raise ComparisonInputError(f"the margin for '{name}' must be a number above 0")


@dataclass(frozen=True)
class PanelKeys:
    """Each response's wave and its panel key where the key can pair, as integer codes: a
    key that appears more than once in a wave (a duplicated import, say) pairs nothing,
    and those responses count as independent answers."""

    waves_seen: tuple[str, ...]
    wave_code: np.ndarray
    key_code: np.ndarray | None  # -1 where there is no usable key

    @classmethod
    def of(cls, responses: pd.DataFrame) -> PanelKeys:
        wave = responses["wave"].astype("category")
        codes = wave.cat.codes.to_numpy()
        labels = tuple(str(label) for label in wave.cat.categories)
        if "panel_key" not in responses.columns or responses["panel_key"].isna().all():
            return cls(labels, codes, None)
        key = pd.factorize(responses["panel_key"])[0]
        # A key seen twice in one wave: both its responses there count as unpaired.
        combined = codes.astype(np.int64) * (key.max() + 2) + key
        repeated = pd.Series(combined).duplicated(keep=False).to_numpy() & (key >= 0)
        return cls(labels, codes, np.where(repeated, -1, key))

    def waves(self, values: pd.Series, reference: str, current: str, within: pd.Series | None = None) -> Waves:
        """Two waves' answers as `Waves`, pairing panel members present in both (each
        pair once). `within` restricts to some rows (one sector's, say)."""
        v = values.to_numpy(dtype=float)
        answered = ~np.isnan(v) if within is None else ~np.isnan(v) & within.to_numpy(dtype=bool)
        r_rows = np.flatnonzero(answered & (self.wave_code == self.waves_seen.index(reference)))
        c_rows = np.flatnonzero(answered & (self.wave_code == self.waves_seen.index(current)))
        if self.key_code is None:
            return Waves(v[r_rows], v[c_rows])
        r_key, c_key = self.key_code[r_rows], self.key_code[c_rows]
        current_row_of = np.full(int(self.key_code.max()) + 2, -1)
        current_row_of[c_key[c_key >= 0]] = c_rows[c_key >= 0]
        partner = np.where(r_key >= 0, current_row_of[r_key], -1)
        paired = partner >= 0
        matched = np.zeros(len(v), dtype=bool)
        matched[partner[paired]] = True
        return Waves(v[r_rows[~paired]], v[c_rows[~matched[c_rows]]],
                     np.column_stack([v[r_rows[paired]], v[partner[paired]]]).reshape(-1, 2))


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


def _questions(codebook: pd.DataFrame) -> dict[str, int]:
    """Each construct's number of questions (analysis.inference.verdict_possible)."""
    return {c: int(n) for c, n in codebook.groupby("construct")["item"].count().items()}


def _tested(waves: Waves, min_n: int, items: int | None = None) -> Estimate | None:
    """The estimate, or None where either wave is under the minimum (`too_few`); with
    `items`, not estimable where analysis.inference.verdict_possible says no verdict."""
    if waves.n_reference < min_n or waves.n_current < min_n:
        return None
    return estimate(waves, items=items)


def read_verdict(low: float, high: float, margin: float) -> tuple[str, bool, bool]:
    """The verdict read off an interval, first match wins: (verdict, dip within the
    margin, material)."""
    if low > 0:
        return "improving", False, False
    if low > -margin:
        return "holding", bool(high < 0), False
    if high < 0:
        return "slipping", False, bool(high < -margin)
    return "cant_tell", False, False


def _comparison(construct, margin, r, c, test: Estimate | None, m: int, alpha: float, **checks) -> ConstructComparison:
    """One construct's (or one cell's) result, with the verdict read off its
    simultaneous interval (each bound at α/m)."""
    figures = dict(construct=construct, margin=margin, reference=_summary(r), current=_summary(c), **checks)
    empty = dict(ci90=None, ci_simultaneous=None, hedges_g=None, p_improve=None, p_noninferior=None,
                 p_decline=None, p_improve_adj=None, p_noninferior_adj=None, p_decline_adj=None,
                 dip_within_margin=False, material=False, leaning=None, needed_n=None)
    if test is None:
        return ConstructComparison(**figures, **empty, difference=None, verdict="too_few")
    pooled_sd = np.sqrt(((len(c) - 1) * c.var(ddof=1) + (len(r) - 1) * r.var(ddof=1)) / (len(c) + len(r) - 2))
    correction = 1 - 3 / (4 * (len(c) + len(r)) - 9)
    common = dict(difference=test.difference, method=test.method, n_pairs=test.n_pairs,
                  hedges_g=float(correction * test.difference / pooled_sd) if pooled_sd > 0 else None)
    if not test.estimable:
        # Nobody's answers vary in either wave: no interval can be drawn, so nothing can
        # be ruled out either way.
        return ConstructComparison(**figures, **{**empty, **common}, verdict="cant_tell")
    low, high = test.interval(alpha / m)
    verdict, dip, material = read_verdict(low, high, margin)
    ci90 = test.interval((1 - CI_LEVEL) / 2)
    p = {"p_improve": test.p_above(0.0), "p_noninferior": test.p_above(-margin), "p_decline": test.p_below(0.0)}
    leaning = None
    if verdict == "cant_tell" and (ci90[1] < 0 or ci90[0] > 0):
        leaning = "fall" if ci90[1] < 0 else "rise"
    return ConstructComparison(
        **figures, **common, ci90=ci90, ci_simultaneous=(low, high), verdict=verdict, dip_within_margin=dip,
        material=material, leaning=leaning, needed_n=needed_n(margin, float(pooled_sd), alpha / m),
        **p, **{f"{name}_adj": min(1.0, m * value) for name, value in p.items()},
    )


def judge(reference: pd.Series, current: pd.Series, margin: float, min_n: int = DEFAULT_MIN_N, alpha: float = ALPHA) -> str:
    """The verdict for one construct on its own (m = 1)."""
    r, c = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    return _comparison("x", margin, r, c, _tested(Waves(r, c), min_n), 1, alpha,
                       gain_retained=None, adjusted=None, panel=None, alpha_reference=None,
                       alpha_current=None).verdict


def needed_n(margin: float, sd: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Responses per wave that would confirm 'holding' at the margin with 80% power, if
    the true change were zero: a one-sided non-inferiority t-test at `alpha` (the
    comparison passes α/m, the level its verdicts use), two independent waves of equal
    size with the spread seen; panel pairing would need fewer. The smallest n whose
    statsmodels power reaches the target, stepping from the normal approximation."""
    if not sd or not np.isfinite(sd) or sd <= 0 or not np.isfinite(margin) or margin <= 0:
        return None
    from statsmodels.stats.power import TTestIndPower  # slow to import; only needed here

    effect = margin / sd
    analysis = TTestIndPower()
    reaches = lambda n: analysis.power(effect_size=effect, nobs1=n, alpha=alpha, ratio=1, alternative="larger") >= power  # noqa: E731
    n = max(2, int(np.ceil(2 * ((stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) / effect) ** 2)))
    while not reaches(n):
        n += 1
    while n > 2 and reaches(n - 1):
        n -= 1
    return n


def _gain_retained(scores, panel: PanelKeys, baseline, current, min_n, alpha, questions) -> dict[str, bool]:
    """Still above the baseline: the simultaneous lower bound (α/m over the constructs
    tested against the baseline) above 0."""
    tests = {construct: _tested(panel.waves(scores[construct], baseline, current), min_n, questions.get(construct))
             for construct in scores.columns}
    tests = {construct: test for construct, test in tests.items() if test is not None and test.estimable}
    return {construct: bool(test.lower(alpha / len(tests)) > 0) for construct, test in tests.items()}


def mix_weights(reference_strata: pd.Series, current_strata: pd.Series, min_n: int,
                withheld: set[str] = frozenset()) -> tuple[pd.Series, tuple[str, ...]]:
    """Weights that give the current wave the reference wave's mix over the strata with
    at least `min_n` responses in both waves and not withheld, and the strata left out.
    A response with no sector is its own stratum, on both sides alike."""
    reference = reference_strata.fillna(NOT_GIVEN).value_counts()
    current = current_strata.fillna(NOT_GIVEN).value_counts()
    strata = sorted(set(reference.index) | set(current.index))
    kept = [s for s in strata if reference.get(s, 0) >= min_n and current.get(s, 0) >= min_n and s not in withheld]
    shares = reference[kept] / reference[kept].sum()
    weights = shares / (current[kept] / current[kept].sum())
    return weights, tuple(s for s in strata if s not in kept)


def _composition_adjusted(scores, responses, reference, current, margins, tests, min_n, alpha,
                          withheld_strata) -> dict[str, Shift]:
    """The current wave reweighted to the reference wave's sector mix, beside the raw
    result on the same footing (panel pairs counted as independent answers, strata too
    small in either wave left out of both). Where the mixes already match, the weights
    are all 1 and the result is the raw one exactly."""
    wave, sector = responses["wave"], responses["sector"]
    estimates = {}
    for construct, test in tests.items():
        if test is None or not test.estimable:
            continue
        answered = scores[construct].notna()
        r_rows, c_rows = answered & (wave == reference), answered & (wave == current)
        weights, left_out = mix_weights(sector[r_rows], sector[c_rows], min_n, withheld_strata.get(construct, set()))
        if weights.empty:
            continue
        r_strata, c_strata = sector[r_rows].fillna(NOT_GIVEN), sector[c_rows].fillna(NOT_GIVEN)
        r_kept, c_kept = r_strata.isin(weights.index), c_strata.isin(weights.index)
        values_r = scores.loc[r_rows, construct][r_kept].to_numpy(dtype=float)
        values_c = scores.loc[c_rows, construct][c_kept].to_numpy(dtype=float)
        each = c_strata[c_kept].map(weights).to_numpy(dtype=float)
        same_mix = np.allclose(each, 1.0, rtol=1e-12, atol=0)
        raw = estimate(Waves(values_r, values_c))
        adjusted = raw if same_mix else estimate(Waves(values_r, values_c, current_weights=each))
        if raw.estimable and adjusted.estimable:
            estimates[construct] = (raw, adjusted, left_out)
    m = len(estimates)
    result = {}
    for construct, (raw, adjusted, left_out) in estimates.items():
        verdicts = [read_verdict(*e.interval(alpha / m), margins[construct])[0] for e in (adjusted, raw)]
        result[construct] = Shift(adjusted.difference, adjusted.interval((1 - CI_LEVEL) / 2), verdicts[0],
                                  raw_verdict=verdicts[1], left_out=left_out)
    return result


def _panel_pairs(compared: dict[str, Waves]) -> dict[str, Shift]:
    """The panel's own paired change, for members who answered both waves (shown beside
    the headline, which already uses the pairing)."""
    result = {}
    for construct, waves in compared.items():
        if waves.n_pairs < MIN_PAIRS:
            continue
        test = estimate(Waves(np.empty(0), np.empty(0), waves.paired))
        ci = test.interval((1 - CI_LEVEL) / 2) if test.estimable else (test.difference, test.difference)
        result[construct] = Shift(test.difference, ci, n_pairs=waves.n_pairs)
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
    decisions: dict[str, WaveDecision] | None = None,
    place: str | None = None,
) -> dict[str, tuple[ConstructComparison | Suppressed, ...]]:
    """The same comparison within each group (e.g. sector), only where both waves' cells
    pass the disclosure rules (k responses, and `min_organisations` organisations where
    every response names one). It answers "which groups moved, for this construct":
    within each construct, simultaneous intervals across the groups shown (m = groups
    published and tested), so withheld cells never count.

    By sector or place, which cells are withheld comes from `decisions` (each wave's own,
    analysis.disclosure.decide_waves, made over the whole survey; computed here from
    `responses` when not given), for `place` (None: all places), so it never depends on
    the waves compared. By any other column the cells are judged in this table alone."""
    if by not in responses.columns:
        raise ComparisonInputError(f"the responses have no '{by}' column to break down by")
    responses = check_inputs(responses, codebook, [reference, current])
    _check_settings(reference, current, None, margins, min_n)
    scores = construct_scores(responses, codebook) if scores is None else scores
    margins = {c: (margins or {}).get(c, DEFAULT_MARGIN) for c in scores.columns}
    wave, group = responses["wave"], responses[by].astype(str).astype("category")
    panel, questions = PanelKeys.of(responses), _questions(codebook)
    in_waves = wave.isin([reference, current])
    groups = sorted(group[in_waves].dropna().unique())
    # Only the columns the disclosure rules need: copying every item column for each
    # construct would cost more than the tests.
    keys = responses[["wave"] + (["organisation"] if "organisation" in responses.columns else [])].assign(group=group)
    if by in ("sector", "place") and decisions is None:
        decisions = decide_waves(responses, scores, [reference, current], k, min_organisations)
    result: dict[str, list] = {name: [] for name in groups}
    for construct in scores.columns:
        answered = scores[construct].notna() & in_waves
        counts = pd.crosstab(group[answered], wave[answered]).reindex(
            index=groups, columns=[reference, current], fill_value=0)
        if by in ("sector", "place"):
            cell = (lambda name: (place, name)) if by == "sector" else (lambda name: (name, None))
            reasons = {name: [decisions[w].reason(construct, *cell(name)) for w in (reference, current)]
                       for name in groups}
        else:
            table = disclose(counts, k, organisations_where_known(keys[answered], "group", "wave"), min_organisations)
            reasons = {name: list(table.reasons.loc[name]) for name in groups}
        published, withheld = {}, {}
        for name in groups:
            given = [reason for reason in reasons[name] if reason]
            if given or counts.loc[name].min() < k:  # a wave with no responses at all is too few too
                withheld[name] = given[0] if given else f"fewer than {k} responses"
                continue
            cell = panel.waves(scores[construct], reference, current, within=group == name)
            published[name] = (cell, _tested(cell, min_n, questions.get(construct)))
        m = sum(1 for _, test in published.values() if test is not None and test.estimable) or 1
        for name in groups:
            if name in withheld:
                result[name].append(Suppressed(construct, reason=withheld[name]))
                continue
            cell, test = published[name]
            r = np.concatenate([cell.reference, cell.paired[:, 0]])
            c = np.concatenate([cell.current, cell.paired[:, 1]])
            result[name].append(_comparison(
                construct, margins[construct], r, c, test, m, alpha, gain_retained=None, adjusted=None,
                panel=None, alpha_reference=None, alpha_current=None))
    return {name: tuple(rows) for name, rows in result.items()}
