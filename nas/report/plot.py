"""The Pareto plot: its data (tested) separately from its drawing (matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

import pandas as pd

from ..outcomes import Outcome

__all__ = ["ParetoPlotData", "draw_pareto", "pareto_plot_data", "place_labels"]


@dataclass
class ParetoPlotData:
    """Points in millions of OPs and top-1 percent."""

    trained: list[tuple[float, float]] = field(default_factory=list)  # fully trained trials
    trained_err: list[float] = field(default_factory=list)  # one standard error of each (points; NaN: unknown)
    pruned: list[tuple[float, float]] = field(default_factory=list)  # stopped at a rung (partial top-1)
    front: list[tuple[float, float]] = field(default_factory=list)  # sorted by OPs
    front_err: list[float] = field(default_factory=list)  # one standard error of each front point
    seeds: list[tuple[str, float, float]] = field(default_factory=list)  # (preset, OPs, top-1)
    seeds_err: list[float] = field(default_factory=list)  # one standard error of each preset (NaN: unknown)
    budget: float = 0.0
    title: str = ""


def pareto_plot_data(
    trials: pd.DataFrame,
    front: pd.DataFrame,
    budget: float,
    title: str = "",
    presets: list[tuple[str, float, float]] | None = None,
) -> ParetoPlotData:
    """``presets``: the seed presets to mark, ``(label, OPs, top-1, standard error)``
    (:func:`nas.report.presets.preset_points`; the error may be left out); by default those queued as seeds
    and trained."""

    def pts(df: pd.DataFrame) -> list[tuple[float, float]]:
        df = df.drop_duplicates("arch")
        return [(o / 1e6, 100 * t) for o, t in zip(df["ops"], df["top1"], strict=True)]

    def se(df: pd.DataFrame) -> list[float]:
        col = df["top1_se"] if "top1_se" in df else pd.Series(float("nan"), index=df.index)
        return [float(v) for v in pd.to_numeric(col, errors="coerce")]

    def err(df: pd.DataFrame) -> list[float]:
        return [100 * v for v in se(df.drop_duplicates("arch"))]

    ok = trials[trials["top1"].notna()]
    if presets is None:
        seeds = ok[ok["seed_preset"].notna() & (ok["outcome"] == Outcome.TRAINED)].drop_duplicates("seed_preset")
        presets = list(zip(seeds["seed_preset"], seeds["ops"], seeds["top1"], se(seeds), strict=True))
    trained = ok[ok["outcome"] == Outcome.TRAINED]
    front = front.sort_values(["ops", "top1"])
    return ParetoPlotData(
        trained=pts(trained),
        trained_err=err(trained),
        pruned=pts(ok[ok["outcome"] == Outcome.PRUNED]),
        front=pts(front),
        front_err=err(front),
        seeds=[(p[0], p[1] / 1e6, 100 * p[2]) for p in presets],
        seeds_err=[100 * float(p[3]) if len(p) > 3 and p[3] is not None else float("nan") for p in presets],
        budget=budget / 1e6,
        title=title,
    )


def _error_bars(ax, points, errors, color, label=None) -> None:
    known = [(x, y, e) for (x, y), e in zip(points, errors, strict=False) if e == e]  # NaN: unknown, no bar
    if known:
        xs, ys, es = zip(*known, strict=True)
        ax.errorbar(xs, ys, yerr=es, fmt="none", ecolor=color, alpha=0.5, lw=0.8, capsize=2, label=label)


def place_labels(ax, labels: list, pad: float = 1.0) -> None:
    """Move point labels (annotations with offsets in points) so that none overlaps another label or the
    legend, and none leaves the axes: from the top label down, each takes the nearest free place beside its
    point (right of it, else left of it; on its line, else one line below or above, then two, ...). A label
    with no free place stays where it was put: a crowded plot is not made worse than matplotlib's."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    points_per_pixel = 72.0 / fig.dpi
    legend = ax.get_legend()
    placed = [legend.get_window_extent(renderer)] if legend is not None else []
    for label in sorted(labels, key=lambda a: -a.xy[1]):
        x, y = label.xyann
        align = label.get_horizontalalignment()
        flipped = "right" if align == "left" else "left"
        step = (label.get_window_extent(renderer).height + pad) * points_per_pixel
        shifts = [0.0] + [d * n * step for n in range(1, len(labels) + 2) for d in (-1, 1)]
        for ha, dx, dy in [(ha, dx, y + shift) for shift in shifts for ha, dx in ((align, x), (flipped, -x))]:
            label.set_horizontalalignment(ha)
            label.xyann = (dx, dy)
            box = label.get_window_extent(renderer)
            inside = axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1 and axes_box.y0 <= box.y0 <= box.y1 <= axes_box.y1
            if inside and not any(box.overlaps(other) for other in placed):
                break
        else:  # nowhere free: as it was
            label.set_horizontalalignment(align)
            label.xyann = (x, y)
        placed.append(label.get_window_extent(renderer))


def draw_pareto(data: ParetoPlotData, targets: list[tuple[BinaryIO, str]]) -> None:
    """Draw ``data`` into each ``(file, format)`` of ``targets`` (``format``: png, svg, ...)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=120)
    if data.pruned:
        ax.scatter(*zip(*data.pruned, strict=True), s=14, marker="x", color="0.6", label="stopped at a rung (partial)")
    if data.trained:
        ax.scatter(*zip(*data.trained, strict=True), s=18, color="tab:blue", alpha=0.6, label="trained")
        _error_bars(ax, data.trained, data.trained_err, "tab:blue")
    if data.front:
        xs, ys = zip(*data.front, strict=True)
        ax.step(xs, ys, where="post", color="tab:red", lw=1.2)
        ax.scatter(xs, ys, s=40, color="tab:red", zorder=3, label="Pareto front")
        _error_bars(ax, data.front, data.front_err, "tab:red", label="± 1 standard error (seed noise)")
    if data.seeds:
        xs, ys = [x for _, x, _ in data.seeds], [y for _, _, y in data.seeds]
        ax.scatter(xs, ys, s=60, facecolors="none", edgecolors="k", zorder=4, label="seed preset")
        _error_bars(ax, [(x, y) for _, x, y in data.seeds], data.seeds_err, "k")
    ax.axvline(data.budget, color="k", ls="--", lw=1, label=f"budget {data.budget:g}M OPs")
    ax.set_xlabel("OPs (millions; FP MACs + binary MACs / 64)")
    ax.set_ylabel("proxy validation top-1 (%)")
    ax.set_title(data.title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    place_labels(
        ax,
        [ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7) for name, x, y in data.seeds],
    )
    with plt.rc_context({"svg.hashsalt": "binas"}):  # the same figure, the same bytes
        for f, fmt in targets:
            fig.savefig(f, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
