"""Screening: a near-free score decides which proposed architectures are worth training.

The sampler proposes architectures one trial at a time. With ``--screen K`` (K > 1), a fresh
proposal within the budget, not trained yet, is scored (``--screen-score``: by default
``surrogate``, below; or a zero-cost proxy such as ``synflow``, computed on one minibatch, a small
fraction of a training's cost) and compared with the last ``window`` proposals scored
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
(:class:`proxies.priors.surrogate.RidgeSurrogate`: ridge regression on the design choices) fitted on the
architectures this study has trained to full fidelity so far and, where it applies (the same
fidelity, class names and channel statistics; ``--no-surrogate-prior`` leaves it out), on the shipped prior
(:mod:`proxies.priors.surrogate_prior`: the held-apart results :mod:`proxies.calibration.surrogate_fit` measures),
refitted at every proposal; the recent proposals and the random draws it is ranked against are
predicted by the same fit. Until the fit predicts top-1 out of sample better than chance
(leave-one-out error below that of the same fit to shuffled values, p < 0.05; tested again at
every refit, so on data it cannot predict it may still pass by chance, which makes it a random
screen), every proposal trains (``screen_place`` ``warm-up``). Without the prior the fit has only
the architectures the study has trained to full fidelity, which a search whose rungs stop most
proposals early gathers slowly, so it may never leave warm-up; the prior lets it screen from the
first proposal.

**Whether screening is on by default** (``--screen 3``, with the surrogate and its prior;
``--screen 1`` turns it off) follows the committed measurements: a screening score is on by default
only when, measured as it screens (each architecture's place on score up and OPs down), it ranks
the reference architectures with a Kendall tau whose 95% bootstrap interval lies above 0
(:func:`proxies.calibration.rank_fidelity.screen_decision`). The surrogate fitted on the prior is measured by
:mod:`proxies.calibration.surrogate_fit` (``results/calibration/surrogate.json``), the zero-cost rule by
``benchmarks/fidelity.py`` (evaluator ``screen``, ``results/calibration/fidelity.csv``); the
numbers live there and in ``docs/``. ``tests/test_repo.py`` ties this default to the committed
results.

Seed presets and queued architectures (retries after Ctrl-C or a crash) are never screened.
A screened-out trial is recorded with outcome ``screened`` (PRUNED, no values: the sampler
learns nothing false from it), its score in ``screen_score``. How many proposals a zero-cost screen lets
train, and what scoring them costs: :mod:`nas.screening_rate` (``benchmarks/screening.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from proxies.scoring.pareto import crowding_distances, domination_counts, places
from search_space.checks import check_int

__all__ = [
    "SCREEN_SCORES",
    "SURROGATE",
    "ZERO_COST_SCREENS",
    "ScreenPolicy",
    "crowding_distances",
    "domination_counts",
    "keeps",
]

# Zero-cost proxies that can screen: "ops" cannot (it would be compared with itself).
ZERO_COST_SCREENS = ("synflow", "naswot", "snip", "grad_norm", "jacob_cov", "params")
SURROGATE = "surrogate"  # predicted top-1, fitted on the study's trained architectures
SCREEN_SCORES = (*ZERO_COST_SCREENS, SURROGATE)


@dataclass(frozen=True)
class ScreenPolicy:
    """Train about one proposal in ``keep_one_in``, picked by ``score`` against the last ``window``."""

    # keep_one_in and score: what proxies.calibration.rank_fidelity.screen_decision decides from the committed
    # measurements (results/calibration/surrogate.json for the surrogate, results/calibration/fidelity.csv,
    # evaluator "screen", for the zero-cost rule); tests/test_repo.py checks that they agree.
    keep_one_in: int = 3
    score: str = SURROGATE
    window: int = 32
    prior: bool = True  # the surrogate also fits the shipped prior where it applies (--no-surrogate-prior)
    prior_file: str | None = None  # --prior-file: another prior file (default: the shipped one)

    def __post_init__(self) -> None:
        check_int("--screen", self.keep_one_in, 1)
        check_int("window", self.window, 1)
        if self.keep_one_in > self.window:
            raise ValueError(
                f"--screen: invalid value {self.keep_one_in} (expected at most {self.window},"
                " the number of recent proposals a proposal is ranked against)"
            )
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
