"""Screening: a near-free score decides which proposed architectures are worth training.

The sampler proposes architectures one trial at a time. With ``--screen K`` (K > 1), a fresh
proposal within the budget, not trained yet, is scored (``--screen-score``: by default
``surrogate``, below; or a zero-cost proxy such as ``synflow``, about 0.1-0.3 CPU-seconds on one
minibatch, against minutes of training) and compared with the last ``window`` proposals scored
before it, screened out or not (while a study has fewer, the window is filled with architectures
drawn at random within the budget, fixed by the search seed, so that about one in K trains from the
first proposal on). It is trained only when it ranks among the best ``1/K`` of them (at most
``window``) on a two-objective rank: first the number of those proposals that *dominate* it (score
at least as high and OPs at least as low, one of them strictly), then, among proposals dominated
equally often, NSGA-II's crowding distance in (score, OPs) (isolated ones first). Ranking on
domination rather than on the score alone keeps the search's spread over OPs: a zero-cost score
grows with a network's size, so a plain top-score rule would only ever train the largest proposals
under the budget; the crowding distance orders a front that holds most of the window (the score
rising with OPs), which domination alone leaves tied. Only exact ties are kept beyond ``1/K``.

``--screen-score surrogate`` scores a proposal by its top-1 as predicted by a surrogate
(:class:`proxies.surrogate.RidgeSurrogate`: ridge regression on the design choices) fitted on the
architectures this study has trained to full fidelity so far and, where it applies (the same
fidelity, class names and channel statistics; ``--no-surrogate-prior`` leaves it out), on the shipped prior
(:mod:`proxies.surrogate_prior`: the held-apart results ``benchmarks/surrogate.py`` measures),
refitted at every proposal; the recent proposals and the random draws it is ranked against are
predicted by the same fit. Until the fit predicts top-1 out of sample better than chance
(leave-one-out error below that of the same fit to shuffled values, p < 0.05; tested again at
every refit, so on data it cannot predict it may still pass by chance, which makes it a random
screen), every proposal trains (``screen_place`` ``warm-up``). Without the prior, a search whose
rungs stop most proposals after one epoch fits on few (a 36-trial 50M search trained 13 and never
left warm-up); the prior lets it screen from the first proposal.

**Screening is on by default** (``--screen 3``, with the surrogate and its prior; ``--screen 1``
turns it off): measured as it screens (each architecture's place on score up and OPs down), the
surrogate fitted on the 215 held-apart results of the prior ranks the 32 reference architectures
(44 runs) with Kendall +0.32 [+0.02, +0.58] (``benchmarks/surrogate.py``; its raw predictions
+0.45), and ``proxies.rank_fidelity.screen_decision`` turns screening on only when that 95%
interval lies above 0. It sits at the edge: as results came in, the lower bound read between
-0.008 and +0.023 (92 to 124 held-apart architectures), then +0.017 with the 120 EDF draws added,
and the default followed the committed results each time. The zero-cost rule, measured the same
way, has -0.16 [-0.43, +0.12] (``benchmarks/fidelity.py``, evaluator ``screen``).
``tests/test_repo.py`` ties this default to the committed results.

Seed presets and queued architectures (retries after Ctrl-C or a crash) are never screened.
A screened-out trial is recorded with outcome ``screened`` (PRUNED, no values: the sampler
learns nothing false from it), its score in ``screen_score``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from proxies.pareto import crowding_distances, domination_counts, places
from search_space.checks import check_int

__all__ = ["SCREEN_SCORES", "SURROGATE", "ZERO_COST_SCREENS", "ScreenPolicy", "crowding_distances",
           "domination_counts", "keeps"]

# Zero-cost proxies that can screen: "ops" cannot (it would be compared with itself).
ZERO_COST_SCREENS = ("synflow", "naswot", "snip", "grad_norm", "jacob_cov", "params")
SURROGATE = "surrogate"  # predicted top-1, fitted on the study's trained architectures
SCREEN_SCORES = (*ZERO_COST_SCREENS, SURROGATE)


@dataclass(frozen=True)
class ScreenPolicy:
    """Train about one proposal in ``keep_one_in``, picked by ``score`` against the last ``window``."""

    # On by default: the surrogate (results/calibration/surrogate.json) is measured, as it screens, to rank
    # the reference set above chance, at the edge (lower bound +0.02); the zero-cost rule
    # (results/calibration/fidelity.csv, "screen") is not (proxies.rank_fidelity.screen_decision;
    # tests/test_repo.py checks both).
    keep_one_in: int = 3
    score: str = SURROGATE
    window: int = 32
    prior: bool = True  # the surrogate also fits the shipped prior where it applies (--no-surrogate-prior)
    prior_file: str | None = None  # --prior-file: another prior file (default: the shipped one)

    def __post_init__(self) -> None:
        check_int("--screen", self.keep_one_in, 1)
        check_int("window", self.window, 1)
        if self.keep_one_in > self.window:
            raise ValueError(f"--screen: invalid value {self.keep_one_in} (expected at most {self.window},"
                             " the number of recent proposals a proposal is ranked against)")
        if self.score not in SCREEN_SCORES:
            raise ValueError(f"--screen-score: unknown value {self.score!r} (choose from {', '.join(SCREEN_SCORES)})")

    @property
    def active(self) -> bool:
        return self.keep_one_in > 1


def keeps(new: tuple[float, float], previous: Sequence[tuple[float, float]], keep_one_in: int) -> tuple[bool, int]:
    """Whether ``new`` = (score, ops) is trained, and its place (0 = best) among ``previous`` + itself.

    Its place is the number of previous points ranked strictly before it: dominated less often, or
    as often and with a larger crowding distance among the points dominated that often. It is kept
    when that place is below ``n / keep_one_in`` rounded to the nearest integer (at least 1), n
    counting itself: the first proposal is always kept, and over a full window about one proposal in
    ``keep_one_in`` (an exact tie with the last kept place is kept too)."""
    if keep_one_in <= 1:
        return True, 0
    pool = [*previous, new]
    place = places(pool)[-1]
    return place < max(1, math.floor(len(pool) / keep_one_in + 0.5)), place
