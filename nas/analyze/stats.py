"""The verdicts of ``nas.analyze``: what a claim's interval says about the paper's claim.

The statistics themselves (the per-seed t interval and p-value, Benjamini-Hochberg, the
comparison of two samples) are the project's one statistics module, :mod:`proxies.stats`.

* A claim's difference is measured once per training seed (the same seeds for both sides), and
  its 95% interval is Student's t interval over those per-seed differences
  (:func:`proxies.stats.seed_interval`). Seeds whose differences are all equal give no interval,
  hence ``inconclusive``.
* Verdict: ``reproduced`` when the mean difference has the paper's sign and the interval excludes
  0; ``contradicted`` when it has the opposite sign and the interval excludes 0; ``inconclusive``
  otherwise (also when the paper reports no difference, or fewer than 2 seeds ran).
* Many claims are tested at once: at 95% each, about 1 in 20 true-null claims gets a verdict by
  chance. Beside each claim's own verdict, ``fdr_verdicts`` gives the verdicts that survive the
  Benjamini-Hochberg correction over all claims (:func:`proxies.stats.benjamini_hochberg` on the
  t-tests' two-sided p-values): the same verdict where the adjusted p-value is below 0.05, else
  ``inconclusive``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from proxies.stats import benjamini_hochberg

__all__ = ["VERDICTS", "fdr_verdicts", "verdict"]

VERDICTS = ("reproduced", "contradicted", "inconclusive")


def fdr_verdicts(
    verdicts: Sequence[str], p_values: Sequence[float], alpha: float = 0.05
) -> tuple[list[str], list[float]]:
    """(verdicts, Benjamini-Hochberg adjusted p-values) over a family of claims: a verdict stays
    where its adjusted p-value is below ``alpha``, else it becomes ``inconclusive``. Claims without
    a p-value (NaN) are left out of the family and stay ``inconclusive``."""
    ok = np.isfinite(np.asarray(p_values, dtype=float))
    adjusted = benjamini_hochberg(p_values)
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
