"""The strategy replay's metrics and tables (``python -m nas.analyze strategies``).

Per strategy, repeat and number of trainings n (1 .. ``n``), from what the strategy trained:

* ``best``: the mean top-1 (over every recorded seed) of the architecture it observed best;
* ``hv``: the hypervolume (:func:`nas.proposer.hypervolume`, from chance top-1 and the budget) of its
  observed front, each point at its architecture's mean top-1;
* ``beats_random``: the share of random searches of n trainings on the same half whose best it beats,
  ties half (exact: :func:`nas.analyze.random_baseline.best_of_k_below` over the half's means).

The table gives, at each of ``TABLE_AT`` trainings, the median best and median hypervolume and the
mean share, with 95% bootstrap intervals over repeats, and each strategy's hypervolume difference
from ``BASELINE`` paired by repeat (the same half and prior), with its interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from proxies.scoring.pareto import places

from ..proposer import hypervolume
from .pool import Pool
from .random_baseline import best_of_k_below

__all__ = [
    "BASELINE",
    "RUN_COLUMNS",
    "TABLE_AT",
    "TABLE_COLUMNS",
    "default_trainings",
    "repeat_metrics",
    "screen_beside_guided",
    "strategy_table",
]

TABLE_AT = (12, 24, 36)
BASELINE = "nsga2-screen"  # the search's default before the guided proposer
RUN_COLUMNS = ["strategy", "repeat", "n", "best", "hv", "beats_random", "arch"]
TABLE_COLUMNS = [
    "strategy",
    "n",
    "repeats",
    "best_median",
    "best_lo",
    "best_hi",
    "hv_median",
    "hv_lo",
    "hv_hi",
    "beats_random",
    "beats_random_lo",
    "beats_random_hi",
    "hv_gain",
    "hv_gain_lo",
    "hv_gain_hi",
]


def repeat_metrics(
    pool: Pool, half: np.ndarray, trained: Sequence[tuple[int, float]], ref: tuple[float, float]
) -> list[dict]:
    """:data:`RUN_COLUMNS` metrics after each of the first 1 .. len(trained) trainings of one repeat."""
    rows = []
    half_means = pool.mean[half]
    for n in range(1, len(trained) + 1):
        done = trained[:n]
        obs = [(v, pool.ops[i]) for i, v in done]
        best_i = max(done, key=lambda t: t[1])[0]
        front = [done[j][0] for j, place in enumerate(places(obs)) if place == 0]
        hv = hypervolume([(pool.mean[i], pool.ops[i]) for i in front], ref)
        share = 1.0 - best_of_k_below(half_means, n, pool.mean[best_i]) if n <= len(half_means) else float("nan")
        rows.append(
            {
                "n": n,
                "best": float(pool.mean[best_i]),
                "hv": hv,
                "beats_random": 1.0 - share,
                "arch": pool.archs[best_i],
            }
        )
    return rows


def _ci(values: np.ndarray, statistic) -> tuple[float, float]:
    if len(values) < 2 or np.ptp(values) == 0:
        v = float(statistic(values))
        return v, v
    res = stats.bootstrap(
        (values,), statistic, n_resamples=2000, method="percentile", random_state=np.random.default_rng(0)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def strategy_table(runs: pd.DataFrame, at: Sequence[int] = TABLE_AT, baseline: str = BASELINE) -> pd.DataFrame:
    """One row per strategy and number of trainings in ``at`` (:data:`TABLE_COLUMNS`); the hypervolume
    gain is over ``baseline``, paired by repeat (none where it has no repeat)."""
    rows = []
    base = runs[runs["strategy"] == baseline].set_index(["repeat", "n"])["hv"]
    for (name, n), g in runs[runs["n"].isin(at)].groupby(["strategy", "n"], sort=False):
        best, hv, share = (g[c].to_numpy(dtype=float) for c in ("best", "hv", "beats_random"))
        row = {
            "strategy": name,
            "n": int(n),
            "repeats": len(g),
            "best_median": float(np.median(best)),
            "hv_median": float(np.median(hv)),
            "beats_random": float(np.mean(share)),
        }
        row["best_lo"], row["best_hi"] = _ci(best, np.median)
        row["hv_lo"], row["hv_hi"] = _ci(hv, np.median)
        row["beats_random_lo"], row["beats_random_hi"] = _ci(share, np.mean)
        base_n = base[base.index.get_level_values("n") == n].droplevel("n")
        paired = (g.set_index("repeat")["hv"] - base_n).dropna()
        if len(paired) and name != baseline:
            row["hv_gain"] = float(paired.mean())
            row["hv_gain_lo"], row["hv_gain_hi"] = _ci(paired.to_numpy(dtype=float), np.mean)
        rows.append(row)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def default_trainings(runs: pd.DataFrame, strategy: str, seed_sd: float, at: int = 36) -> int:
    """The fewest trainings whose median best top-1 for ``strategy`` lies within ``seed_sd`` of its median at ``at``."""
    med = runs[runs["strategy"] == strategy].groupby("n")["best"].median()
    target = med.loc[at] - seed_sd
    return int(med[(med.index <= at) & (med >= target)].index.min())


def screen_beside_guided(runs: pd.DataFrame, at: int = 36) -> tuple[bool, str]:
    """Whether the screen earns its place beside the guided sampler: ``guided-ehvi-screen``'s hypervolume
    gain over ``guided-ehvi`` at ``at`` trainings, paired by repeat, has a 95% interval above 0."""
    t = strategy_table(runs[runs["strategy"].isin(["guided-ehvi", "guided-ehvi-screen"])], (at,), "guided-ehvi")
    row = t[t["strategy"] == "guided-ehvi-screen"]
    if row.empty or pd.isna(row["hv_gain"].iloc[0]):
        return False, "not measured"
    r = row.iloc[0]
    why = f"hypervolume gain {r['hv_gain']:+.4f} [{r['hv_gain_lo']:+.4f}, {r['hv_gain_hi']:+.4f}] over {r['repeats']}"
    return bool(r["hv_gain_lo"] > 0), why
