"""The project's statistics: rank fidelity, intervals, bootstrap and multiple-testing corrections.

Thin wrappers over ``scipy.stats`` that agree on one convention: values where either side is NaN
are dropped, and a statistic that is not defined (too few values, a constant side) is NaN rather
than a warning.

* Rank fidelity (``spearmanr``, ``kendalltau``, ``bootstrap``): Spearman's rho, Kendall's tau-b,
  pairwise accuracy, their paired percentile bootstrap intervals (:func:`rank_ci`) and the paired
  bootstrap test of a gain (:func:`gain_test`). Infinite scores are legal (``-inf`` is the worst
  score) and are ranked as the extremes they are.
* A measurement repeated over training seeds (the same seeds on both sides of a difference): the
  mean of the per-seed values and Student's t interval over them
  (``scipy.stats.ttest_1samp(...).confidence_interval``, :func:`seed_interval`), and the t-test's
  two-sided p-value (:func:`seed_p_value`). Values that are all equal give no interval (NaN: no
  spread to estimate one from).
* Two samples (:func:`compare_samples`): the two-sample Kolmogorov-Smirnov statistic and p-value
  (``scipy.stats.ks_2samp``) and the difference in medians with a 95% bootstrap interval
  (``scipy.stats.bootstrap``, percentile method, fixed seed). Either sample with fewer than
  :data:`MIN_SAMPLE` values gets no comparison: the bootstrap median of 2-4 values takes a handful
  of distinct numbers, and its percentile interval is narrow by construction, not by evidence.
* Families of tests: Holm's step-down procedure (:func:`holm`, family-wise error) and the
  Benjamini-Hochberg adjusted p-values (:func:`benjamini_hochberg`, false discovery rate, by
  ``scipy.stats.false_discovery_control``). A p-value that is NaN is not part of the family.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["MAX_UNDEFINED", "MIN_SAMPLE", "benjamini_hochberg", "compare_samples", "gain_test", "holm", "kendall",
           "pairwise_accuracy", "rank_ci", "seed_interval", "seed_p_value", "spearman"]

MAX_UNDEFINED = 0.05  # the share of bootstrap resamples that may leave a statistic undefined
MIN_SAMPLE = 5  # values per side for compare_samples

ArrayLike = Sequence[float] | np.ndarray


def _pairs(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"rank correlation: {x.shape} values against {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    # rank first, so that +-inf compare as extremes and never reach a mean or a variance
    return stats.rankdata(x[keep]), stats.rankdata(y[keep])


def _defined(x: np.ndarray, y: np.ndarray) -> bool:
    return len(x) >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman's rho (ties: average ranks); NaN when undefined."""
    x, y = _pairs(a, b)
    return float(stats.spearmanr(x, y).statistic) if _defined(x, y) else float("nan")


def kendall(a: ArrayLike, b: ArrayLike) -> float:
    """Kendall's tau-b; NaN when undefined."""
    x, y = _pairs(a, b)
    return float(stats.kendalltau(x, y).statistic) if _defined(x, y) else float("nan")


def pairwise_accuracy(truth: ArrayLike, score: ArrayLike) -> float:
    """Share of the pairs that ``truth`` orders strictly which ``score`` orders the same way
    (a tie in ``score`` counts half); NaN when ``truth`` orders no pair."""
    x, y = _pairs(truth, score)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu(np.ones_like(dx, dtype=bool), 1) & (dx != 0)
    if not upper.any():
        return float("nan")
    agree = np.where(dy[upper] == 0, 0.5, (dx[upper] == dy[upper]).astype(float))
    return float(agree.mean())


def rank_ci(truth: ArrayLike, score: ArrayLike, statistic: str = "kendall", *, n_resamples: int = 2000,
            confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (``kendall``, ``spearman`` or ``pairwise``),
    resampling architectures (paired). A resample that leaves the statistic undefined (every
    architecture drawn alike, a constant side) is left out of the percentiles; the interval is NaN
    when more than ``MAX_UNDEFINED`` of them are."""
    fn = _STATISTICS[statistic]
    x, y = np.asarray(truth, dtype=float), np.asarray(score, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.isnan(fn(x, y)):
        return float("nan"), float("nan")
    return _percentile_ci((x, y), fn, n_resamples, confidence, seed)


def gain_test(truth: ArrayLike, base: ArrayLike, challenger: ArrayLike, statistic: str = "kendall", *,
              n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Does ``challenger`` rank ``truth`` better than ``base``? The percentile bootstrap interval of
    ``statistic(truth, challenger) - statistic(truth, base)`` and the one-sided bootstrap p-value of
    "no gain", ``(#{resampled gain <= 0} + 1) / (#resamples + 1)``. Resamples the architectures all
    three score (paired: one resample serves both statistics, so what they share cancels).
    Undefined resamples: as :func:`rank_ci`."""
    fn = _STATISTICS[statistic]
    t, a, b = (np.asarray(v, dtype=float) for v in (truth, base, challenger))
    if not t.shape == a.shape == b.shape:
        raise ValueError(f"gain_test: {t.shape}, {a.shape} and {b.shape} values")
    keep = ~(np.isnan(t) | np.isnan(a) | np.isnan(b))
    t, a, b = t[keep], a[keep], b[keep]

    def gain(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> float:
        return fn(u, w) - fn(u, v)

    nan = float("nan")
    if len(t) < 3 or np.isnan(gain(t, a, b)):
        return nan, nan, nan
    dist = _distribution((t, a, b), gain, n_resamples, seed)
    if dist is None:
        return nan, nan, nan
    low, high = _percentiles(dist, confidence)
    return low, high, float((np.sum(dist <= 0) + 1) / (len(dist) + 1))


def holm(p_values: dict[str, float], alpha: float = 0.05) -> set[str]:
    """The names whose hypotheses Holm's step-down procedure rejects at family-wise level ``alpha``
    (NaN p-values are never rejected, and do not count in the family)."""
    family = sorted((p, name) for name, p in p_values.items() if not np.isnan(p))
    rejected = set()
    for i, (p, name) in enumerate(family):
        if p > alpha / (len(family) - i):
            break
        rejected.add(name)
    return rejected


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``, ``method="bh"``),
    in the order given. A p-value that is not finite (NaN) is left out of the family and stays NaN."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    if ok.any():
        adjusted[ok] = stats.false_discovery_control(p[ok], method="bh")
    return adjusted


def _testable(values: Sequence[float]) -> tuple[np.ndarray, bool]:
    """The finite values, and whether a t-test can use them (2 or more, not all equal)."""
    v = np.asarray([d for d in values if d is not None and math.isfinite(d)], dtype=float)
    return v, len(v) >= 2 and not np.all(v == v[0])


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of per-seed values (Student's t interval); the interval is NaN with fewer
    than 2 finite values, or when they are all equal (no spread to estimate one from)."""
    v, ok = _testable(values)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    if not ok:
        return float(v.mean()), math.nan, math.nan
    ci = stats.ttest_1samp(v, 0.0).confidence_interval(confidence)
    return float(v.mean()), float(ci.low), float(ci.high)


def seed_p_value(values: Sequence[float]) -> float:
    """Two-sided p-value of the t-test that the per-seed values have mean 0 (NaN where
    :func:`seed_interval` gives no interval)."""
    v, ok = _testable(values)
    return float(stats.ttest_1samp(v, 0.0).pvalue) if ok else math.nan


def compare_samples(a: Sequence[float], b: Sequence[float], resamples: int = 2000, seed: int = 0) -> dict:
    """How sample ``a`` differs from ``b``: KS statistic and p-value, median(a) - median(b) and its
    95% bootstrap interval. NaN where a side has fewer than :data:`MIN_SAMPLE` finite values."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = {"n": len(a), "n_rest": len(b), "ks": math.nan, "ks_p": math.nan, "median_diff": math.nan,
           "median_diff_low": math.nan, "median_diff_high": math.nan}
    if min(len(a), len(b)) < MIN_SAMPLE:
        return out
    ks = stats.ks_2samp(a, b)
    out.update(ks=float(ks.statistic), ks_p=float(ks.pvalue), median_diff=float(np.median(a) - np.median(b)))
    if resamples > 0:
        res = stats.bootstrap((a, b), lambda x, y, axis=-1: np.median(x, axis=axis) - np.median(y, axis=axis),
                              n_resamples=resamples, method="percentile", rng=np.random.default_rng(seed),
                              vectorized=True)
        out.update(median_diff_low=float(res.confidence_interval.low),
                   median_diff_high=float(res.confidence_interval.high))
    return out


def _distribution(data: tuple[np.ndarray, ...], fn, n_resamples: int, seed: int) -> np.ndarray | None:
    """The finite values of ``fn``'s paired bootstrap distribution; None when more than
    ``MAX_UNDEFINED`` of the resamples leave it undefined."""
    with warnings.catch_warnings():  # every resample alike (a perfect ranking) is a valid, degenerate answer
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(data, fn, paired=True, vectorized=False, n_resamples=n_resamples,
                              method="percentile", rng=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    finite = dist[np.isfinite(dist)]  # scipy's own percentiles are NaN as soon as one resample is
    return finite if len(finite) >= (1 - MAX_UNDEFINED) * len(dist) else None


def _percentiles(dist: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 100 * (1 - confidence) / 2
    low, high = np.percentile(dist, [alpha, 100 - alpha])
    return float(low), float(high)


def _percentile_ci(data: tuple[np.ndarray, ...], fn, n_resamples: int, confidence: float,
                   seed: int) -> tuple[float, float]:
    dist = _distribution(data, fn, n_resamples, seed)
    return (float("nan"), float("nan")) if dist is None else _percentiles(dist, confidence)


_STATISTICS = {"kendall": kendall, "spearman": spearman, "pairwise": pairwise_accuracy}
