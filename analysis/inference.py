"""The difference between two waves, with one reference distribution for every bound
and test drawn from it.

Every comparison in Holdfast (a construct, a sector cell, the sector-mix check, the
gain over the baseline) goes through `estimate`, which returns an `Estimate`: the
difference d̂ = mean(current) − mean(reference), its standard error, and the
distribution of the studentized pivot T = (d̂ − d) / SE (or of a monotone transform of
it). Intervals at any level and the three one-sided p-values are read off that one
distribution, so a verdict read off an interval and a verdict read off the p-values can
never disagree (see `Estimate.lower`).

Which distribution:
- Welch's t (or Derrick et al.'s partially-overlapping t where panel pairs link the
  waves) when both waves are large enough and not too unbalanced;
- otherwise, for independent waves, a skew-corrected studentized permutation
  distribution: the statistic is Welch's t put through Hall's (1992) cubic
  transformation, which removes the n^(-1/2) skewness term of its distribution using the
  waves' own third moments, and its reference distribution is that of the same
  transformed statistic over re-splits of the pooled answers. A fixed number of
  re-splits, seeded from a hash of the data, so every page, PDF and command run on the
  same answers gives the same figures. The switch is a fixed rule on the two sample
  sizes (`resampling_needed`), never on the observed skew.

  Why the transformation: the plain permutation-t lends each wave the pooled answers'
  shape, which keeps a small wave beside a large one honest, but it cannot see that the
  two waves differ in shape. With equal sizes its distribution is exactly symmetric, so
  where the wave with the larger spread is also the more skewed (ceiling- or
  floor-heavy answers whose spread changed), one tail is too thin and false verdicts ran
  at 5.5-6% instead of 5%. Transformed, the statistic is free of that skewness term to
  order 1/n whatever the two shapes, and the permutation distribution still supplies
  the discreteness and the small-sample tails (docs/statistics.md has the grid).

Where no distribution keeps its promises there is no verdict: a construct of one or two
questions with fewer than 30 responses in a wave (`verdict_possible`, again a fixed rule
on sizes and the number of questions, never on the answers). The estimate still carries
the difference and its standard error, but is not `estimable`, so no interval is drawn
and the verdict is "can't tell yet".

Written by hand: scipy's `permutation_test` recomputes the statistic row by row and
cannot be turned into a pivot, and no maintained library offers the
partially-overlapping samples test. The Welch figures are checked
against scipy.stats.ttest_ind and the paired limit against ttest_rel in the tests.

References: Welch (1947); Hall (1992), "On the removal of skewness by transformation",
JRSS B 54(1); Zhou & Dinh (2005), "Nonparametric confidence intervals for the one- and
two-sample problems", Biostatistics 6(2) (the transformation for two samples with
unequal variances); Derrick, Russ, Toher & White (2017), "Test statistics for the
comparison of means for two samples which include both paired observations and
independent observations", JMASM 16(1) (T_new2 and its degrees of freedom);
Janssen (1997), "Studentized permutation tests for non-i.i.d. hypotheses and the
generalized Behrens-Fisher problem", Statistics & Probability Letters 36; Chung & Romano
(2013), "Exact and asymptotically robust permutation tests", Annals of Statistics 41(2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

RESAMPLES = 4000
# Resampling takes over from Welch when the smaller wave has under SMALL_WAVE responses
# or the larger has more than IMBALANCE times as many (docs/statistics.md has the
# calibration grid that chose these).
SMALL_WAVE = 200
IMBALANCE = 10.0
# Fewest panel pairs before their correlation is used: fewer pairs estimate it too
# poorly, and treating them as independent only widens the interval.
MIN_PAIRS = 10
# A construct of fewer than FEW_ITEMS questions needs FEW_ITEMS_MIN_WAVE responses in each
# wave before any verdict: below that, with a dozen answers on one or two 5-point
# questions, a wave's shape cannot be learnt from its answers, and every reference
# distribution tried (Welch, the permutation-t, the bootstrap-t and the more cautious of
# those two) gave false verdicts up to 7-13% where the waves differ in spread
# (docs/statistics.md, "Where no verdict is possible").
FEW_ITEMS = 3
FEW_ITEMS_MIN_WAVE = 30
NO_VERDICT = "none: 1-2 questions, under 30 responses"
RESAMPLED = "skew-corrected permutation-t"


@dataclass(frozen=True)
class Waves:
    """The answers of one comparison, split by how they are linked.

    `reference` and `current` are responses in one wave only (or, with no panel, all of
    them); `paired` holds (reference, current) rows for panel members in both waves.
    `current_weights` reweights current-only responses (the sector-mix check); None
    means every response counts once."""

    reference: np.ndarray
    current: np.ndarray
    paired: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    current_weights: np.ndarray | None = None

    @property
    def n_reference(self) -> int:
        return len(self.reference) + len(self.paired)

    @property
    def n_current(self) -> int:
        return len(self.current) + len(self.paired)

    @property
    def n_pairs(self) -> int:
        return len(self.paired)


@dataclass(frozen=True)
class Estimate:
    """d̂, its standard error, and the distribution of T = (d̂ − d)/SE: Student's t with
    `df` degrees of freedom, or sorted draws of T from the skew-corrected permutation
    distribution (`_permutation_t`)."""

    difference: float
    se: float
    method: str  # "welch", "partially-overlapping", "paired", RESAMPLED or NO_VERDICT
    n_pairs: int
    df: float | None = None
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def estimable(self) -> bool:
        """An interval can be drawn and a verdict read off it: a standard error exists and
        the sizes allow a verdict (`verdict_possible`)."""
        return self.method != NO_VERDICT and self.se > 0 and np.isfinite(self.se)

    def _upper_point(self, level: float) -> float:
        """t such that P(T ≥ t) ≥ level holds exactly up to t: the level-quantile from
        above. With draws: the ⌈level·B⌉-th largest draw, which makes `lower` exclude a
        value exactly when that value's p-value is below `level`. Levels are rounded to 12
        places, so (1 − 0.90)/2 and 0.05/1 give the very same bound."""
        level = round(level, 12)
        if self.draws is None:
            return float(stats.t.isf(level, self.df))
        j = int(np.ceil(level * len(self.draws)))
        return float(self.draws[len(self.draws) - max(j, 1)])

    def _lower_point(self, level: float) -> float:
        level = round(level, 12)
        if self.draws is None:
            return float(stats.t.ppf(level, self.df))
        j = int(np.ceil(level * len(self.draws)))
        return float(self.draws[max(j, 1) - 1])

    def lower(self, level: float) -> float:
        """One-sided lower bound at `level` (e.g. 0.05, or α/m for a simultaneous set)."""
        return self.difference - self._upper_point(level) * self.se

    def upper(self, level: float) -> float:
        return self.difference - self._lower_point(level) * self.se

    def interval(self, level_each_side: float) -> tuple[float, float]:
        return self.lower(level_each_side), self.upper(level_each_side)

    def p_above(self, value: float) -> float:
        """One-sided p-value for H1: d > value."""
        t = (self.difference - value) / self.se
        if self.draws is None:
            return float(stats.t.sf(t, self.df))
        return float(np.count_nonzero(self.draws >= t) / len(self.draws))

    def p_below(self, value: float) -> float:
        """One-sided p-value for H1: d < value."""
        t = (self.difference - value) / self.se
        if self.draws is None:
            return float(stats.t.cdf(t, self.df))
        return float(np.count_nonzero(self.draws <= t) / len(self.draws))


def resampling_needed(n_reference: int, n_current: int) -> bool:
    """The fixed rule on the two sizes alone (never on the observed skew)."""
    small, large = sorted((n_reference, n_current))
    return small < SMALL_WAVE or large > IMBALANCE * small


def verdict_possible(n_reference: int, n_current: int, items: int | None) -> bool:
    """Whether any verdict can keep its promises at these sizes: a construct of one or two
    questions needs FEW_ITEMS_MIN_WAVE responses in each wave (three or more questions
    need only the comparison's minimum). A fixed rule on the sizes and the number of
    questions in the codebook, never on the answers; `items` None means not known (three
    or more assumed)."""
    return items is None or items >= FEW_ITEMS or min(n_reference, n_current) >= FEW_ITEMS_MIN_WAVE


def estimate(waves: Waves, resample: bool | None = None, items: int | None = None) -> Estimate:
    """The difference current − reference with its reference distribution. Independent,
    unweighted waves that `resampling_needed` flags get the skew-corrected permutation-t;
    everything else (large waves, panels, the reweighted sector-mix check) Student's t
    with Welch's or Derrick's degrees of freedom. `resample` forces the choice for
    independent waves (tests and the calibration grid). `items`, the construct's number
    of questions, applies `verdict_possible`: where it says no, the estimate has the
    difference and Welch's standard error but is not `estimable`."""
    if not verdict_possible(waves.n_reference, waves.n_current, items):
        difference, se, df = _statistic(_usable_pairs(waves))
        return Estimate(float(difference), float(se), NO_VERDICT, 0, df=float(df))
    waves = _usable_pairs(waves)
    if resample is None:
        resample = resampling_needed(waves.n_reference, waves.n_current)
    independent = waves.n_pairs == 0 and waves.current_weights is None
    if resample and independent:
        # Sorted, so the sums come out the same to the last bit in any row order.
        waves = Waves(np.sort(waves.reference), np.sort(waves.current))
    difference, se, df = _statistic(waves)
    method = _method(waves)
    if resample and independent and se > 0 and np.isfinite(se):
        return Estimate(float(difference), float(se), RESAMPLED, 0, draws=_permutation_t(waves, difference))
    return Estimate(float(difference), float(se), method, waves.n_pairs, df=float(df))


def _method(waves: Waves) -> str:
    if waves.n_pairs == 0:
        return "welch"
    if len(waves.reference) == 0 and len(waves.current) == 0:
        return "paired"
    return "partially-overlapping"


def _usable_pairs(waves: Waves) -> Waves:
    """Too few pairs to estimate their correlation: count them as independent answers."""
    if 0 < waves.n_pairs < MIN_PAIRS:
        return Waves(
            np.concatenate([waves.reference, waves.paired[:, 0]]),
            np.concatenate([waves.current, waves.paired[:, 1]]),
            current_weights=None if waves.current_weights is None
            else np.concatenate([waves.current_weights, np.ones(waves.n_pairs)]),
        )
    return waves


def _statistic(waves: Waves) -> tuple[float, float, float]:
    """The difference, its standard error and degrees of freedom.

    Without pairs this is Welch, with an effective size where the current wave is
    reweighted (the linearised variance of a weighted mean: with every weight 1 it is
    exactly s²/n, so reweighting nothing changes nothing). With pairs it is Derrick et
    al.'s T_new2: each wave's mean and SD over all its responses, less the covariance
    the pairs share,
        SE² = S₁²/n₁ + S₂²/n₂ − 2·r·S₁·S₂·n_c/(n₁·n₂),
        ν = (n_c − 1) + (γ − n_c + 1)/(n_a + n_b + 2n_c) · (n_a + n_b), γ Welch's df;
    it is Welch with no pairs and the paired t-test when everyone is paired."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if waves.n_pairs == 0:
            share_r, n_r = _share(waves.reference, None)
            share_c, n_c = _share(waves.current, waves.current_weights)
            mean_c = waves.current.mean() if waves.current_weights is None else \
                np.average(waves.current, weights=waves.current_weights)
            se = np.sqrt(share_r + share_c)
            df = (share_r + share_c) ** 2 / (share_r**2 / (n_r - 1) + share_c**2 / (n_c - 1))
            return float(mean_c - waves.reference.mean()), float(se), float(df) if np.isfinite(df) else np.inf
        all_r = np.concatenate([waves.reference, waves.paired[:, 0]])
        all_c = np.concatenate([waves.current, waves.paired[:, 1]])
        n1, n2, n_c, unpaired = len(all_r), len(all_c), waves.n_pairs, len(waves.reference) + len(waves.current)
        var1, var2 = all_r.var(ddof=1), all_c.var(ddof=1)
        spreads = waves.paired.std(axis=0)
        r = float(np.corrcoef(waves.paired.T)[0, 1]) if spreads.min() > 0 else 0.0  # no spread among the pairs
        share1, share2 = var1 / n1, var2 / n2
        se = np.sqrt(max(share1 + share2 - 2 * r * np.sqrt(var1 * var2) * n_c / (n1 * n2), 0.0))
        if unpaired == 0:
            df = n_c - 1.0
        else:
            gamma = (share1 + share2) ** 2 / (share1**2 / (n1 - 1) + share2**2 / (n2 - 1))
            gamma = gamma if np.isfinite(gamma) else np.inf
            df = (n_c - 1) + (gamma - n_c + 1) / (unpaired + 2 * n_c) * unpaired
    return float(all_c.mean() - all_r.mean()), float(se), float(df)


def _share(values: np.ndarray, weights: np.ndarray | None) -> tuple[float, float]:
    """The variance of a wave's (weighted) mean and its (effective) size."""
    n = len(values)
    if weights is None:
        return values.var(ddof=1) / n, float(n)
    total = weights.sum()
    mean = np.average(values, weights=weights)
    squares = (weights**2 * (values - mean) ** 2).sum()
    return squares / total**2 * n / (n - 1), total**2 / (weights**2).sum()


@dataclass(frozen=True)
class _Support:
    """A wave pair's distinct answers and how often each occurs: 5-point answers take few
    distinct values, so re-splitting counts costs little whatever n is."""

    reference: np.ndarray
    current: np.ndarray
    counts: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, waves: Waves) -> _Support:
        reference, reference_counts = np.unique(waves.reference, return_counts=True)
        current, current_counts = np.unique(waves.current, return_counts=True)
        return cls(reference, current, (reference_counts, current_counts))


def _seed(support: _Support) -> int:
    """A seed from the data alone: the distinct answers and their counts are already in a
    canonical order, so the same answers in any row order give the same draws."""
    digest = hashlib.sha256()
    for part in (support.reference, support.current, *support.counts):
        digest.update(np.ascontiguousarray(part, dtype=float).tobytes())
        digest.update(b"|")
    return int.from_bytes(digest.digest()[:8], "little")


def hall(t, skew):
    """Hall's (1992) transformation of a studentized statistic whose distribution has the
    skewness term γ = `skew` (see `_skewness`):
        h(t) = t + γt²/3 + γ²t³/27 + γ/6,
    under which h(T) is standard normal up to O(1/n) rather than O(n^(-1/2)). Its slope
    (1 + γt/3)² is never negative, so h is increasing and has an exact inverse
    (`hall_inverse`); h(±∞) = ±∞. Elementwise over arrays of t and γ."""
    t, skew = np.asarray(t, dtype=float), np.asarray(skew, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        h = t + skew * t * t / 3 + skew * skew * t**3 / 27 + skew / 6
    return np.where(np.isinf(t), t, h)


def hall_inverse(h, skew):
    """t with hall(t, skew) = h: h − γ/6 = ((1 + γt/3)³ − 1)/γ, so
    t = 3·((1 + γ(h − γ/6))^(1/3) − 1)/γ, with the real cube root (expm1/log1p keep it
    exact for a small γ) and t = h where γ = 0."""
    h, skew = np.asarray(h, dtype=float), np.asarray(skew, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        u = skew * (h - skew / 6)
        root = np.where(u > -1, np.expm1(np.log1p(u) / 3), np.cbrt(1 + u) - 1)
        t = 3 * root / skew
    return np.where((skew == 0) | np.isinf(h), h, t)


def _moments(values: np.ndarray, counts: np.ndarray | None = None):
    """A wave's size, mean, variance (n − 1) and third cumulant k₃ = n²·m₃/((n − 1)(n − 2))
    (unbiased; 0 below three answers), from its answers or, with `counts` (one row per
    re-split), from counts of the distinct `values`."""
    if counts is None:
        n = len(values)
        mean = values.mean()
        deviations = values - mean
        m2, m3 = (deviations**2).mean(), (deviations**3).mean()
    else:
        n = counts[0].sum()
        s1, s2, s3 = counts @ values, counts @ values**2, counts @ values**3
        mean = s1 / n
        m2 = np.maximum(s2 / n - mean * mean, 0.0)
        m3 = s3 / n - 3 * mean * s2 / n + 2 * mean**3
    k3 = m3 * n * n / ((n - 1) * (n - 2)) if n > 2 else 0.0 * m3
    return n, mean, m2 * n / (n - 1), k3


def _skewness(reference, current):
    """γ = κ₃(d̂)/SE³ = (k₃c/n_c² − k₃r/n_r²)/SE³: the skewness of the difference of means,
    which is also the covariance of d̂ with SE² over SE³, the two n^(-1/2) terms of the
    studentized difference's Edgeworth expansion (Hall 1992; Zhou & Dinh 2005). 0 where
    no standard error exists."""
    (n_r, _, var_r, k3_r), (n_c, _, var_c, k3_c) = reference, current
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma = (k3_c / n_c**2 - k3_r / n_r**2) / (var_r / n_r + var_c / n_c) ** 1.5
    return np.where(np.isfinite(gamma), gamma, 0.0)


def _permutation_t(waves: Waves, difference: float) -> np.ndarray:
    """Sorted draws of T = (d̂ − d)/SE implied by the skew-corrected permutation
    distribution. Each random re-split of the two independent waves, pooled after moving
    the current wave by −d̂ (so both share one mean), gives Welch's t* and its own
    skewness γ̂*, and so a draw hall(t*, γ̂*) of the transformed statistic: a studentized
    permutation distribution (Janssen 1997; Chung & Romano 2013) of that statistic. Since
    hall(T, γ̂) ≤ x exactly when T ≤ hall_inverse(x, γ̂), with γ̂ the data's own skewness,
    the draws are returned on T's scale, hall_inverse(hall(t*, γ̂*), γ̂), and every bound
    and p-value is read off them exactly as off plain permutation draws of T.

    Unlike the bootstrap, re-splitting lends the larger wave's rare answers to the smaller
    one, which is what keeps a small, ceiling-heavy wave beside a large one honest; the
    transformation, computed on each re-split as on the data, adds what re-splitting
    cannot see: that the two waves differ in shape.

    Each re-split is a multivariate hypergeometric draw of how many of each distinct
    answer go to the smaller side, so the cost does not grow with the larger wave."""
    support = _Support.of(waves)
    rng = np.random.default_rng(_seed(support))
    values = np.concatenate([support.reference, support.current - difference])
    counts = np.concatenate(support.counts)
    # The smaller side is drawn, one answer at a time ("count", cost growing with its
    # size) or one distinct value at a time ("marginals"), whichever costs less.
    smaller = min(len(waves.reference), len(waves.current))
    drawn = rng.multivariate_hypergeometric(counts, smaller, size=RESAMPLES,
                                            method="count" if smaller <= 8 * len(counts) else "marginals")
    drawn = drawn.astype(float)
    to_reference = drawn if smaller == len(waves.reference) else counts - drawn
    reference, current = _moments(values, to_reference), _moments(values, counts - to_reference)
    se = np.sqrt(reference[2] / reference[0] + current[2] / current[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(se > 0, (current[1] - reference[1]) / se, np.sign(current[1] - reference[1]) * np.inf)
    t = np.where(np.isnan(t), 0.0, t)
    observed = _skewness(_moments(waves.reference), _moments(waves.current))
    return np.sort(hall_inverse(hall(t, _skewness(reference, current)), observed))
