"""Multi-fidelity: stop poor candidates early on their per-epoch validation top-1.

Optuna's pruners are single-objective (``trial.report`` is refused in a multi-objective
study), and pruning on accuracy alone would stop exactly the cheap, less accurate
architectures that belong on an accuracy-vs-OPs front. So binas runs its own
asynchronous successive halving (ASHA) rungs, Pareto-aware:

* rungs sit at epochs ``1, eta, eta**2, ...`` below the fidelity's last epoch;
* at a rung, a candidate is compared with every earlier trial that reached the rung, on
  (top-1 at that epoch, OPs); it goes on if no one there dominates it (it is on the rung's
  front), or if it is among the first ``ceil(n / eta)`` when all are ordered by front, then
  by top-1;
* nothing is stopped before ``min_peers`` earlier trials reached the rung.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RungPolicy", "front_ranks"]


def front_ranks(points: Sequence[tuple[float, float]]) -> list[int]:
    """Non-dominated front index (0 = Pareto front) of each ``(accuracy, ops)`` point,
    accuracy maximised and OPs minimised."""
    ranks = [-1] * len(points)
    remaining = list(range(len(points)))
    rank = 0
    while remaining:
        front = set(_first_front([points[i] for i in remaining]))
        for j, i in enumerate(remaining):
            if j in front:
                ranks[i] = rank
        remaining = [i for j, i in enumerate(remaining) if j not in front]
        rank += 1
    return ranks


def _first_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points, by one sweep in OPs order."""
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0]))
    front, best_before = [], float("-inf")  # best accuracy among strictly cheaper points
    k = 0
    while k < len(order):
        ops = points[order[k]][1]
        group = [i for i in order[k:] if points[i][1] == ops]
        top = points[group[0]][0]
        if top > best_before:
            front.extend(i for i in group if points[i][0] == top)
        best_before = max(best_before, top)
        k += len(group)
    return front


@dataclass(frozen=True)
class RungPolicy:
    """Where the rungs are and how many candidates go on (see the module docstring)."""

    eta: int = 3
    min_peers: int = 4

    def __post_init__(self) -> None:
        if self.eta < 2:
            raise ValueError(f"eta: must be at least 2, got {self.eta}")
        if self.min_peers < 1:
            raise ValueError(f"min_peers: must be at least 1, got {self.min_peers}")

    def rungs(self, epochs: int) -> list[int]:
        """Rung epochs (1-based) strictly before the last epoch."""
        out, e = [], 1
        while e < epochs:
            out.append(e)
            e *= self.eta
        return out

    def keep(self, top1: float, ops: float, peers: Sequence[tuple[float, float]]) -> bool:
        """Whether a candidate with ``top1`` at a rung goes on, given ``peers`` there."""
        if len(peers) < self.min_peers:
            return True
        points = [(top1, ops), *peers]
        ranks = front_ranks(points)
        order = sorted(range(len(points)), key=lambda i: (ranks[i], -points[i][0], i))
        return ranks[0] == 0 or order.index(0) < math.ceil(len(points) / self.eta)
