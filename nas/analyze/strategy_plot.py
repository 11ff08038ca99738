"""The strategy replay's plot: median best top-1 and median hypervolume against trainings, per strategy,
with 95% bootstrap intervals of the medians (data computed apart from drawing: :func:`strategy_curves`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from search_space.files import atomic_write

__all__ = ["draw_strategies", "strategy_curves"]

MARKER = "binas strategy replay"
STEP = 3  # a point every STEP trainings


def strategy_curves(runs: pd.DataFrame, step: int = STEP) -> pd.DataFrame:
    """Per strategy, metric (best, hv) and n (1 and every ``step``): median, lo, hi."""
    rows = []
    for (name, n), g in runs.groupby(["strategy", "n"]):
        if n != 1 and n % step:
            continue
        for metric in ("best", "hv"):
            v = g[metric].to_numpy(dtype=float)
            lo = hi = float(np.median(v))
            if len(v) > 1 and np.ptp(v) > 0:
                ci = stats.bootstrap(
                    (v,), np.median, n_resamples=500, method="percentile", random_state=np.random.default_rng(0)
                ).confidence_interval
                lo, hi = float(ci.low), float(ci.high)
            rows.append(
                {"strategy": name, "metric": metric, "n": int(n), "median": float(np.median(v)), "lo": lo, "hi": hi}
            )
    return pd.DataFrame(rows)


def draw_strategies(runs: pd.DataFrame, paths: Sequence[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = strategy_curves(runs)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, metric, label in ((axes[0], "best", "median best top-1 (%)"), (axes[1], "hv", "median hypervolume")):
        scale = 100.0 if metric == "best" else 1.0
        names = sorted(curves["strategy"].unique())
        colours = plt.get_cmap("tab20")
        for name, g in curves[curves["metric"] == metric].groupby("strategy"):
            colour = colours((2 * names.index(name)) % 20 + (names.index(name) >= 10))
            style = "-" if name.startswith("guided") else "--"
            ax.plot(g["n"], scale * g["median"], style, label=name, lw=1.6, color=colour)
            ax.fill_between(g["n"], scale * g["lo"], scale * g["hi"], color=colour, alpha=0.12)
        ax.set_xlabel("trainings")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Search strategies replayed over the committed results (bands: 95% CI of the median)")
    fig.tight_layout()
    for path in paths:
        fmt = Path(path).suffix.lstrip(".")
        meta = {"Title": MARKER, "Date": None} if fmt == "svg" else {"Description": MARKER}
        with plt.rc_context({"svg.hashsalt": "binas"}):  # the same figure, the same bytes
            atomic_write(path, lambda f, fmt=fmt, meta=meta: fig.savefig(f, format=fmt, dpi=110, metadata=meta))
    plt.close(fig)
