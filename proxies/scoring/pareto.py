"""Two-objective ranking of (score, cost) points: a score to maximise, a cost (OPs) to minimise.

The search's screening step (:mod:`nas.screening`) ranks proposals this way, and the rank-fidelity
benchmark scores the same rule as an evaluator (``screen``), so that what is measured is what
screens. A point's *place* (0 = best) counts the points ranked strictly before it: those
dominated less often, and, among the points dominated as often, those with a larger NSGA-II
crowding distance (computed within that group; isolated ones first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["crowding_distances", "domination_counts", "places"]


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``a`` = (score, cost) dominates ``b``: a score at least as high and a cost at least as low, one strictly."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def domination_counts(points: Sequence[tuple[float, float]]) -> list[int]:
    """For each (score, cost) point, how many of the others dominate it (0: on the front).
    A score of NaN or -inf (a proxy that failed) counts as the lowest score."""
    clean = [(s if math.isfinite(s) else -math.inf, c) for s, c in points]
    return [sum(_dominates(q, p) for q in clean) for p in clean]


def crowding_distances(points: Sequence[tuple[float, float]]) -> list[float]:
    """NSGA-II's crowding distance of each (score, cost) point: per objective, the gap between its
    two neighbours over the objective's range, summed; the ends of each objective get infinity.
    A non-finite score counts as one below the lowest finite score."""
    finite = [s for s, _ in points if math.isfinite(s)]
    floor = min(finite) - 1.0 if finite else 0.0
    clean = [(s if math.isfinite(s) else floor, c) for s, c in points]
    dist = [0.0] * len(clean)
    for dim in (0, 1):
        order = sorted(range(len(clean)), key=lambda i: clean[i][dim])
        lo, hi = clean[order[0]][dim], clean[order[-1]][dim]
        dist[order[0]] = dist[order[-1]] = math.inf
        if hi > lo:
            for j in range(1, len(order) - 1):
                dist[order[j]] += (clean[order[j + 1]][dim] - clean[order[j - 1]][dim]) / (hi - lo)
    return dist


def places(points: Sequence[tuple[float, float]]) -> list[int]:
    """Each point's place (0 = best, ties share a place): the number of points dominated less often
    than it, plus those dominated as often with a larger crowding distance within that group."""
    counts = domination_counts(points)
    crowd: dict[int, float] = {}
    for c in set(counts):
        group = [i for i, k in enumerate(counts) if k == c]
        crowd.update(zip(group, crowding_distances([points[i] for i in group]), strict=True))
    return [sum(k < counts[i] for k in counts) + sum(counts[j] == counts[i] and crowd[j] > crowd[i]
                                                     for j in range(len(points)))
            for i in range(len(points))]
