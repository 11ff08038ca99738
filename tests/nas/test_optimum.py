"""A search against the true optimum of a space listed whole (``nas.analyze.optimum``)."""

from __future__ import annotations

import pandas as pd

from nas.analyze.optimum import OPTIMUM_COLUMNS, against_optimum
from search_space import analytic_cost, get_space

BUDGET = 21e6  # MoBiNet's space: no extra block, K 0 or 1, ReLU or PReLU
SEARCH = {"space": "mobinet", "budget": BUDGET, "fidelity": "f", "data_seed": 2, "convention": "bireal",
          "resolution": 224, "num_classes": 1000, "test_fraction": 0.0, "skip_bad_images": False}


def _listing(scores: dict[str, float], **changes) -> pd.DataFrame:
    rows = [{**SEARCH, "data_seed": 0, "arch": a, "top1": t, **changes} for a, t in scores.items()]
    return pd.DataFrame(rows)


def _whole() -> dict[str, float]:
    archs = sorted(a.encode() for a in get_space("mobinet").enumerate() if analytic_cost(a).ops() <= BUDGET)
    assert len(archs) == 4
    return dict(zip(archs, [0.30, 0.34, 0.32, 0.28], strict=True))


def test_rank_and_regret_of_the_best_in_a_whole_listing_at_any_search_seed():
    scores = _whole()
    second = sorted(scores, key=scores.get)[2]  # 0.32
    out = against_optimum(_listing(scores), SEARCH, {"arch": second, "top1": 0.40})
    assert out["space_n"] == 4 and out["space_rank"] == 2 and out["space_top1"] == 0.32
    assert abs(out["space_regret"] - 0.02) < 1e-12 and out["space_best_top1"] == 0.34
    assert out["space_best_arch"] == max(scores, key=scores.get)


def test_nothing_unless_the_listing_holds_the_whole_space_at_the_same_fidelity():
    scores = _whole()
    partial = dict(list(scores.items())[:3])
    best = {"arch": next(iter(scores)), "top1": 0.3}
    assert against_optimum(_listing(partial), SEARCH, best) == dict.fromkeys(OPTIMUM_COLUMNS)
    assert against_optimum(_listing(scores, fidelity="g"), SEARCH, best) == dict.fromkeys(OPTIMUM_COLUMNS)
    assert against_optimum(_listing(scores), {**SEARCH, "space": "per-stage"}, best) == dict.fromkeys(OPTIMUM_COLUMNS)
    no_best = against_optimum(_listing(scores), SEARCH, {})
    assert no_best["space_n"] == 4 and no_best["space_rank"] is None
