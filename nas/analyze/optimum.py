"""A search against the true optimum of its space, where the space is small enough to train whole.

``nas.analyze edf --n all`` trains every architecture of a small space (``sp``, ``mobinet``) within a
budget once. When such a listing matches a search (same space and everything that moves a score or an
OPs count, :data:`MATCHED` less the data seed) and holds every architecture of the space within the
search's budget, the search's best architecture is looked up in it: its score there, its rank (1: the
listing's best) and the regret (the listing's best score less its score). The lookup is by architecture,
so a search at any ``--seed`` can be read against a listing trained at data seed 0; the listing's scores
are single runs, so a rank carries their noise (about one seed SD).
"""

from __future__ import annotations

import pandas as pd

from search_space import analytic_cost, get_space

from .random_baseline import MATCHED

__all__ = ["OPTIMUM_COLUMNS", "against_optimum"]

OPTIMUM_COLUMNS = ["space_n", "space_top1", "space_rank", "space_regret", "space_best_arch", "space_best_top1"]
_NUMERIC = {"resolution", "num_classes", "test_fraction"}  # compared as numbers


def _in_budget(space: str, search: dict) -> set[str] | None:
    """Every architecture string of ``space`` within the study's budget under its OPs convention; None for a
    space too large to list."""
    try:
        archs = list(get_space(space).enumerate())
    except ValueError:
        return None
    with_bn, classes, res = search["convention"] == "with-bn", int(search["num_classes"]), int(search["resolution"])
    return {a.encode() for a in archs if analytic_cost(a, classes, res).ops(with_bn=with_bn) <= float(search["budget"])}


def against_optimum(sample: pd.DataFrame, search: dict, best: dict) -> dict:
    """The :data:`OPTIMUM_COLUMNS` of a search against ``sample`` (``edf-archs.csv`` rows): all None unless
    the sample lists the whole space within the budget. ``search`` holds the search's :data:`MATCHED`
    values and ``budget``; ``best``, its best architecture's row (empty when it has none)."""
    out: dict = dict.fromkeys(OPTIMUM_COLUMNS)
    rows = sample[sample["top1"].notna()]
    for c in MATCHED:
        if c == "data_seed":
            continue
        if c in _NUMERIC:
            rows = rows[pd.to_numeric(rows[c], errors="coerce") == float(search[c])]
        else:
            rows = rows[rows[c].astype(str) == str(search[c])]
    wanted = _in_budget(str(search["space"]), search) if len(rows) else None
    if not wanted:
        return out
    scores = rows.groupby("arch")["top1"].mean()
    if not wanted <= set(scores.index):
        return out
    scores = scores[scores.index.isin(wanted)].sort_values(ascending=False, kind="stable")
    out.update(space_n=len(scores), space_best_arch=scores.index[0], space_best_top1=float(scores.iloc[0]))
    arch = best.get("arch")
    if arch in scores.index:
        top1 = float(scores[arch])
        out.update(
            space_top1=top1,
            space_rank=int((scores > top1).sum()) + 1,
            space_regret=float(scores.iloc[0]) - top1,
        )
    return out
