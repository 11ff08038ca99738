"""Does a search beat random search? Its best architecture against architectures drawn at random.

The random sample is ``nas.analyze edf``'s (``edf-archs.csv``): architectures drawn uniformly from a
space within a budget and trained once at a fidelity. A search is compared with the rows of its own
space and fidelity whose OPs fit its budget (rejection sampling within a smaller budget is still
uniform within it; a sample drawn within a smaller budget than the search's cannot stand in for it,
and gives no baseline).

* ``random_rank``: how many of the sample score at least the search's best top-1 (0: it beats them all).
* A random search of the same cost: ``random_k`` architectures trained to full fidelity, where
  ``random_k`` is the search's training epochs (every evaluated trial's ``epochs_done``, rung-stopped
  ones included) over the epochs of one full training. Its best is the maximum of ``random_k``
  draws without replacement from the sample: ``P(best <= v_i) = C(i, k) / C(N, k)`` for the i-th
  smallest score (``scipy.stats.hypergeom``). ``random_best_median`` is that best's median, and
  ``beats_random`` the share of such random searches whose best the search's best exceeds (ties count
  half): 0.5 is no better than random search, 1.0 better than every one.

Both sides are single-seed maxima of noisy scores, so the winner's curse inflates them alike; a
sample of N caps how well a best of ``k`` close to N is resolved (with k = N every random search
returns the sample's best).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..outcomes import EVALUATED

__all__ = ["BASELINE_COLUMNS", "best_of_k_below", "best_of_k_median", "random_baseline", "search_cost_k"]

BASELINE_COLUMNS = ["random_n", "random_k", "random_rank", "random_best_median", "beats_random"]


def _all_from(n_total: int, n_good: int, k: int) -> float:
    """P(all k draws without replacement from n_total fall among n_good of them)."""
    return float(stats.hypergeom(n_total, n_good, k).pmf(k)) if n_good >= k else 0.0


def best_of_k_below(values: Sequence[float], k: int, x: float) -> float:
    """The share of k-subsets of ``values`` whose maximum is below ``x``, ties counting half."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and {n}, not {k}")
    below, at_most = int((v < x).sum()), int((v <= x).sum())
    return 0.5 * (_all_from(n, below, k) + _all_from(n, at_most, k))


def best_of_k_median(values: Sequence[float], k: int) -> float:
    """The median of the maximum of k draws without replacement from ``values``."""
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and {n}, not {k}")
    cdf = [_all_from(n, i, k) for i in range(1, n + 1)]  # P(max <= i-th smallest)
    return float(v[int(np.searchsorted(cdf, 0.5 - 1e-12))])  # the smallest v_i with P(max <= v_i) >= 0.5


def search_cost_k(trials: pd.DataFrame) -> int:
    """Full trainings a random search could buy for the search's training epochs (seed presets,
    trained after a ``--no-seed-presets`` search for comparison, left out)."""
    own = trials if "seed_preset" not in trials else trials[trials["seed_preset"].isna()]
    evaluated = own[own["outcome"].isin(EVALUATED)]
    full = pd.to_numeric(evaluated["epochs_done"]).max()
    if evaluated.empty or not full > 0:
        return 0
    return max(1, round(float(pd.to_numeric(evaluated["epochs_done"]).sum()) / float(full)))


def random_baseline(sample: pd.DataFrame, space: str, fidelity: str, budget: float, best_top1: float | None,
                    k: int) -> dict:
    """The :data:`BASELINE_COLUMNS` of one search against ``sample`` (``edf-archs.csv`` rows); NaN where
    the sample holds nothing comparable or the search has no best."""
    out: dict = dict.fromkeys(BASELINE_COLUMNS, math.nan)
    rows = sample[(sample["space"] == space) & (sample["fidelity"] == fidelity) & sample["top1"].notna()]
    if rows.empty or (pd.to_numeric(rows["budget"]) < budget).any():
        return out
    scores = pd.to_numeric(rows.loc[pd.to_numeric(rows["ops"]) <= budget, "top1"]).to_numpy(dtype=float)
    if len(scores) == 0:
        return out
    k = min(k, len(scores))
    out.update(random_n=len(scores), random_k=k)
    if k >= 1:
        out["random_best_median"] = best_of_k_median(scores, k)
    if best_top1 is not None and math.isfinite(best_top1):
        out["random_rank"] = int((scores >= best_top1).sum())
        if k >= 1:
            out["beats_random"] = best_of_k_below(scores, k, best_top1)
    return out
