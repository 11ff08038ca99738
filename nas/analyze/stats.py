"""The statistics of ``nas.analyze``: a claim's interval and verdict, and how two error samples differ.

* A claim's difference is measured once per training seed (the same seeds for both sides), and
  its 95% interval is Student's t interval over those per-seed differences
  (``scipy.stats.ttest_1samp(...).confidence_interval``): with 3 seeds it is wide (t = 4.30),
  which is the honest width of 3 seeds. Seeds whose differences are all equal give no interval
  (NaN: no spread to estimate one from), hence ``inconclusive``.
* Verdict: ``reproduced`` when the mean difference has the paper's sign and the interval excludes
  0; ``contradicted`` when it has the opposite sign and the interval excludes 0; ``inconclusive``
  otherwise (also when the paper reports no difference, or fewer than 2 seeds ran).
* Many claims are tested at once: at 95% each, about 1 in 20 true-null claims gets a verdict by
  chance. Beside each claim's own verdict, ``fdr_verdicts`` gives the verdicts that survive the
  Benjamini-Hochberg correction over all claims (``scipy.stats.false_discovery_control`` on the
  t-tests' two-sided p-values): the same verdict where the adjusted p-value is below 0.05, else
  ``inconclusive``.
* Two samples of errors (one choice's value against the rest, in the EDF analysis): the two-sample
  Kolmogorov-Smirnov statistic and p-value (``scipy.stats.ks_2samp``) and the difference in
  medians with a 95% bootstrap interval (``scipy.stats.bootstrap``, percentile method, fixed seed).
  Either sample with fewer than :data:`MIN_SAMPLE` values gets no comparison: the bootstrap median
  of 2-4 values takes a handful of distinct numbers, and its percentile interval is narrow by
  construction, not by evidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["VERDICTS", "compare_samples", "fdr_verdicts", "seed_p_value", "seed_interval", "verdict"]

VERDICTS = ("reproduced", "contradicted", "inconclusive")
MIN_SAMPLE = 5  # values per side for compare_samples


def _testable(diffs: Sequence[float]) -> tuple[np.ndarray, bool]:
    """The finite per-seed differences, and whether a t-test can use them (2 or more, not all equal)."""
    v = np.asarray([d for d in diffs if d is not None and math.isfinite(d)], dtype=float)
    return v, len(v) >= 2 and not np.all(v == v[0])


def seed_interval(diffs: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of per-seed differences; the interval is NaN with fewer than 2 finite values,
    or when they are all equal (no spread to estimate one from)."""
    v, ok = _testable(diffs)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    if not ok:
        return float(v.mean()), math.nan, math.nan
    ci = stats.ttest_1samp(v, 0.0).confidence_interval(confidence)
    return float(v.mean()), float(ci.low), float(ci.high)


def seed_p_value(diffs: Sequence[float]) -> float:
    """Two-sided p-value of the t-test that the per-seed differences have mean 0 (NaN where
    :func:`seed_interval` gives no interval)."""
    v, ok = _testable(diffs)
    return float(stats.ttest_1samp(v, 0.0).pvalue) if ok else math.nan


def fdr_verdicts(verdicts: Sequence[str], p_values: Sequence[float], alpha: float = 0.05
                 ) -> tuple[list[str], list[float]]:
    """(verdicts, Benjamini-Hochberg adjusted p-values) over a family of claims: a verdict stays
    where its adjusted p-value is below ``alpha``, else it becomes ``inconclusive``. Claims without
    a p-value (NaN) are left out of the family and stay ``inconclusive``."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    if ok.any():
        adjusted[ok] = stats.false_discovery_control(p[ok], method="bh")
    out = [v if ok[i] and adjusted[i] < alpha else "inconclusive" for i, v in enumerate(verdicts)]
    return out, [float(a) for a in adjusted]


def verdict(paper_diff: float, mean: float, low: float, high: float) -> str:
    """``reproduced`` / ``contradicted`` / ``inconclusive`` (see the module's docstring)."""
    if not all(math.isfinite(x) for x in (paper_diff, mean, low, high)) or paper_diff == 0:
        return "inconclusive"
    excludes_zero = low > 0 or high < 0
    if not excludes_zero:
        return "inconclusive"
    return "reproduced" if math.copysign(1, mean) == math.copysign(1, paper_diff) else "contradicted"


def compare_samples(a: Sequence[float], b: Sequence[float], resamples: int = 2000, seed: int = 0) -> dict:
    """How sample ``a`` differs from ``b``: KS statistic and p-value, median(a) - median(b) and its
    95% bootstrap interval. NaN where a side has fewer than :data:`MIN_SAMPLE` values."""
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
