"""Does a search beat random search? Its best architecture against architectures drawn at random.

The random sample is ``nas.analyze edf``'s (``edf-archs.csv``): architectures drawn uniformly from a
space within a budget and trained once at a fidelity. A search is compared only with the rows that
match it in everything that moves a score or an OPs count: space, fidelity, data seed (a search's
``--seed`` selects its training subset; edf trains on data seed 0), OPs convention, resolution,
classes, test fraction and the skipping of bad images; and only a search that ranks single runs
(``--seeds 1``), since the sample's scores are single runs. Rows whose OPs fit the search's budget
stand in for a random search within it (rejection sampling within a smaller budget is still
uniform within it); a sample drawn within a smaller budget than the search's cannot. Where nothing
matches, ``random_note`` says why. The data folder itself is not compared (a study does not record
it): pair a search with an edf run on its data.

* ``random_rank``: how many of the sample score at least the search's best top-1 (0: it beats them all).
* A random search of the same cost: ``random_k`` architectures trained to full fidelity, where
  ``random_k`` is the search's training epochs over the fidelity's epochs: every trial that spent
  training time (trained, stopped at a rung, diverged, failed) counts its ``epochs_done``, a full
  training where that is unknown. Its best is the maximum of ``random_k`` draws without
  replacement from the sample: ``P(best <= v_i) = C(i, k) / C(N, k)`` for the i-th smallest score
  (``scipy.stats.hypergeom``). ``random_best_median`` is that best's median, and ``beats_random``
  the share of such random searches whose best the search's best exceeds (ties count half): 0.5 is
  no better than random search, 1.0 better than every one. A sample smaller than ``random_k`` cannot
  say (with ``k > N`` a random search would have to draw some architecture twice): NaN.

Both sides are single-seed maxima of noisy scores, so the winner's curse inflates them alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from proxies import Fidelity

from ..outcomes import COUNTED

__all__ = ["BASELINE_COLUMNS", "best_of_k_below", "best_of_k_median", "random_baseline", "search_cost_k"]

BASELINE_COLUMNS = ["random_n", "random_k", "random_rank", "random_best_median", "beats_random", "random_note"]
MATCHED = (
    "space",
    "fidelity",
    "data_seed",
    "convention",
    "resolution",
    "num_classes",
    "test_fraction",
    "skip_bad_images",
)  # sample column = search's
_NUMERIC = {"data_seed", "resolution", "num_classes", "test_fraction"}


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


def search_cost_k(trials: pd.DataFrame, fidelity: str) -> int:
    """Full trainings at ``fidelity`` that the search's training epochs buy (see the module's docstring;
    seed presets, trained after a ``--no-seed-presets`` search for comparison, left out)."""
    full = Fidelity.from_key(fidelity).epochs
    own = trials if "seed_preset" not in trials else trials[trials["seed_preset"].isna()]
    spent = pd.to_numeric(own.loc[own["outcome"].isin(COUNTED), "epochs_done"]).fillna(full)
    return math.floor(float(spent.sum()) / full + 0.5)  # half up (round() takes 2.5 to 2)


def random_baseline(sample: pd.DataFrame, search: dict, best_top1: float | None, k: int) -> dict:
    """The :data:`BASELINE_COLUMNS` of one search against ``sample`` (``edf-archs.csv`` rows). ``search``
    holds the :data:`MATCHED` values, ``budget`` and ``seeds``; NaN, with ``random_note``, where the
    sample holds nothing comparable or the search has no best."""
    out: dict = {**dict.fromkeys(BASELINE_COLUMNS, math.nan), "random_k": k, "random_note": ""}
    if search.get("data_seed") is None:
        return {**out, "random_note": "the study does not record its --seed (give --search-seeds)"}
    if search.get("seeds", 1) != 1:
        return {**out, "random_note": f"the search ranks means of {search['seeds']} seeds; the sample, single runs"}
    rows = sample[sample["top1"].notna()]
    for c in MATCHED:
        if c in _NUMERIC:
            rows = rows[pd.to_numeric(rows[c], errors="coerce") == float(search[c])]
        else:
            rows = rows[rows[c].astype(str) == str(search[c])]
    if rows.empty:
        return {**out, "random_note": "no sample of the same " + ", ".join(MATCHED).replace("_", " ")}
    if (pd.to_numeric(rows["budget"]) < search["budget"]).any():
        return {**out, "random_note": "the sample was drawn within a smaller budget"}
    scores = pd.to_numeric(rows.loc[pd.to_numeric(rows["ops"]) <= search["budget"], "top1"]).to_numpy(dtype=float)
    out["random_n"] = len(scores)
    if best_top1 is None or not math.isfinite(best_top1):
        return {**out, "random_note": "the search has no fully trained architecture"}
    out["random_rank"] = int((scores >= best_top1).sum())
    if k < 1:
        return {**out, "random_note": "the search trained nothing"}
    if k > len(scores):
        return {**out, "random_note": f"k = {k}: the sample of {len(scores)} cannot stand for that random search"}
    out.update(random_best_median=best_of_k_median(scores, k), beats_random=best_of_k_below(scores, k, best_top1))
    return out
