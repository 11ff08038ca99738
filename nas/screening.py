"""Screening: a near-free score decides which proposed architectures are worth training.

The sampler proposes architectures one trial at a time. A fresh proposal within the budget,
not trained yet, is scored by a zero-cost proxy (``--screen-score``, default ``synflow``:
about 0.1-0.3 CPU-seconds on one minibatch, against minutes of training) and compared with
the last ``window`` proposals scored before it, screened out or not (while a study has fewer, the
window is filled with architectures drawn at random within the budget, fixed by the search seed,
so that about one in K trains from the first proposal on). It is trained only when
it ranks among the best ``1/K`` of them (``--screen K``) on a two-objective rank: the number
of those proposals that *dominate* it (score at least as high and OPs at least as low, one of
them strictly). Ranking on domination rather than on the score alone keeps the search's
spread over OPs: a zero-cost score grows with a network's size, so a plain top-score rule
would only ever train the largest proposals under the budget. Ties are kept (every proposal
on the window's front is), so slightly more than ``1/K`` may train.

Seed presets and queued architectures (retries after Ctrl-C or a crash) are never screened.
A screened-out trial is recorded with outcome ``screened`` (PRUNED, no values: the sampler
learns nothing false from it), its score in ``screen_score``. ``--screen 1`` trains every
proposal, as binas did before screening.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from search_space.checks import check_int

__all__ = ["SCREEN_SCORES", "ScreenPolicy", "domination_counts", "keeps"]

# Zero-cost proxies that can screen: "ops" cannot (it would be compared with itself).
SCREEN_SCORES = ("synflow", "naswot", "snip", "grad_norm", "jacob_cov", "params")


@dataclass(frozen=True)
class ScreenPolicy:
    """Train about one proposal in ``keep_one_in``, picked by ``score`` against the last ``window``."""

    keep_one_in: int = 4
    score: str = "synflow"
    window: int = 32

    def __post_init__(self) -> None:
        check_int("--screen", self.keep_one_in, 1)
        check_int("window", self.window, 1)
        if self.score not in SCREEN_SCORES:
            raise ValueError(f"--screen-score: unknown value {self.score!r} (choose from {', '.join(SCREEN_SCORES)})")

    @property
    def active(self) -> bool:
        return self.keep_one_in > 1


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """``a`` = (score, ops) dominates ``b``: a score at least as high and OPs at least as low, one strictly."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def domination_counts(points: Sequence[tuple[float, float]]) -> list[int]:
    """For each (score, ops) point, how many of the others dominate it (0: on the front).
    A score of NaN or -inf (a proxy that failed) is dominated by every finite point."""
    clean = [(s if math.isfinite(s) else -math.inf, o) for s, o in points]
    return [sum(_dominates(q, p) for q in clean) for p in clean]


def keeps(new: tuple[float, float], previous: Sequence[tuple[float, float]], keep_one_in: int) -> tuple[bool, int]:
    """Whether ``new`` = (score, ops) is trained, and its place (0 = best) among ``previous`` + itself.

    Its place is the number of points with a strictly smaller domination count; it is kept when
    that place is below ``ceil(n / keep_one_in)``, n counting itself (the first proposal is always
    kept; ties with the best are kept)."""
    if keep_one_in <= 1:
        return True, 0
    pool = [*previous, new]
    counts = domination_counts(pool)
    place = sum(c < counts[-1] for c in counts[:-1])
    return place < math.ceil(len(pool) / keep_one_in), place
