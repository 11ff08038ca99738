"""The EDF plots of ``nas.analyze edf``: their data (tested) apart from their drawing (matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from search_space.files import atomic_write

from .edf import CHOICES

__all__ = ["MARKER", "EdfPlotData", "draw_edf", "edf_plot_data"]

MARKER = "binas design-space EDF"  # in the plots' metadata: a file without it is not ours


@dataclass
class EdfPlotData:
    """One panel per choice: ``panels[choice] = [(value label, errors in %, cdf), ...]``."""

    space: str
    title: str
    panels: dict[str, list[tuple[str, list[float], list[float]]]] = field(default_factory=dict)


def edf_plot_data(curves: pd.DataFrame, space: str, title: str = "") -> EdfPlotData:
    data = EdfPlotData(space, title)
    sub = curves[curves["space"] == space]
    for choice in CHOICES:
        c = sub[sub["choice"] == choice]
        if c.empty:
            continue
        data.panels[choice] = [
            (f"{value} (n={len(g)})", [100 * e for e in g["error"]], list(g["cdf"]))
            for value, g in c.groupby("value", sort=True)
        ]
    return data


def draw_edf(data: EdfPlotData, paths: list[Path]) -> None:
    """Draw ``data`` into each path (format from the suffix), each written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(data.panels))
    cols = 4
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), dpi=110, squeeze=False)
    for ax, (choice, lines) in zip(axes.flat, data.panels.items(), strict=False):
        for label, errors, cdf in lines:
            ax.step(errors, cdf, where="post", label=label, lw=1.2)
        ax.set_title(choice, fontsize=9)
        ax.set_xlabel("proxy top-1 error (%)", fontsize=8)
        ax.set_ylabel("cumulative share", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower right")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(data.title, fontsize=10)
    fig.tight_layout()
    for path in paths:
        fmt = path.suffix.lstrip(".")
        meta = {"Title": MARKER, **({"Date": None} if fmt == "svg" else {})}
        with plt.rc_context({"svg.hashsalt": "binas"}):  # the same figure, the same bytes
            atomic_write(path, lambda f, fmt=fmt, meta=meta: fig.savefig(f, format=fmt, metadata=meta))
    plt.close(fig)
