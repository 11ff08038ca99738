"""Samplers that never waste a draw on an over-budget architecture when they can avoid it.

The space is large and most of it is over a tight budget: at 50M OPs about 1 uniform draw
in 44 fits (a full-precision stage alone costs more). Uniform draws that Optuna makes
(random search, NSGA-II's first generation and its mutations, TPE's start-up trials) are
therefore replaced by :class:`FeasibleRandomSampler`, which draws whole architectures from
the space until one fits, using the analytic OPs (microseconds, no model built). Draws that
a model makes (NSGA-II crossover, TPE after start-up) can still land over budget: the
search rejects those before training and records them as infeasible (``set_constraint``),
so TPE learns to avoid them and NSGA-II never selects them as parents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, NSGAIISampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

from search_space import ArchConfig, SearchSpace

from . import compat
from .adapter import answer, arch_params
from .outcomes import EVALUATED, Attr
from .settings import SearchSettings

__all__ = ["SAMPLERS", "FeasibleRandomSampler", "make_sampler"]

MAX_DRAWS = 200_000


class FeasibleRandomSampler(BaseSampler):
    """Uniform over the architectures of ``space`` whose OPs fit (``fits(arch)``).

    Each trial draws one whole feasible architecture from a generator seeded by
    ``(seed, trial number)`` and answers every parameter from it, so runs are reproducible
    and workers do not draw the same sequence.
    """

    def __init__(self, space: SearchSpace, fits: Callable[[ArchConfig], bool], seed: int = 0) -> None:
        self._space = space
        self._fits = fits
        self._seed = seed
        self._cache: tuple[int, dict[str, Any]] | None = None
        self._fallback = optuna.samplers.RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        self._fallback.reseed_rng()

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        return {}

    def draw(self, number: int) -> ArchConfig:
        """The feasible architecture of trial ``number``."""
        rng = np.random.default_rng([self._seed, number])
        for _ in range(MAX_DRAWS):
            arch = self._space.sample(rng)
            if self._fits(arch):
                return arch
        raise ValueError(f"--budget: no architecture of the search space fits it in {MAX_DRAWS} random draws")

    def sample_independent(self, study, trial: FrozenTrial, param_name: str, param_distribution) -> Any:
        if self._cache is None or self._cache[0] != compat.trial_id(trial):
            self._cache = (compat.trial_id(trial), arch_params(self.draw(trial.number), self._space))
        return answer(self._cache[1], self._fallback, study, trial, param_name, param_distribution)


def _trained(study: optuna.Study) -> int:
    trials = compat.cached_trials(study, (TrialState.COMPLETE, TrialState.PRUNED))
    return sum(1 for t in trials if t.user_attrs.get(Attr.OUTCOME) in EVALUATED)


class FeasibleTPESampler(TPESampler):
    """Multi-objective TPE whose start-up trials are feasible random architectures."""

    def __init__(self, feasible: FeasibleRandomSampler, n_startup_trials: int, seed: int) -> None:
        super().__init__(n_startup_trials=n_startup_trials, seed=seed)
        self._feasible = feasible
        self._startup = n_startup_trials

    def sample_independent(self, study, trial, param_name, param_distribution) -> Any:
        if _trained(study) < self._startup:
            return self._feasible.sample_independent(study, trial, param_name, param_distribution)
        return super().sample_independent(study, trial, param_name, param_distribution)


class FeasibleNSGAIISampler(NSGAIISampler):
    """NSGA-II whose random draws (first generation, mutations) come from feasible architectures."""

    def __init__(self, feasible: FeasibleRandomSampler, population_size: int, seed: int) -> None:
        super().__init__(population_size=population_size, seed=seed)
        self._feasible = feasible

    def sample_independent(self, study, trial, param_name, param_distribution) -> Any:
        return self._feasible.sample_independent(study, trial, param_name, param_distribution)


def _nsga2(feasible: FeasibleRandomSampler, seed: int, population: int, settings) -> BaseSampler:
    return FeasibleNSGAIISampler(feasible, population_size=population, seed=seed)


def _tpe(feasible: FeasibleRandomSampler, seed: int, population: int, settings) -> BaseSampler:
    return FeasibleTPESampler(feasible, n_startup_trials=population, seed=seed)


def _random(feasible: FeasibleRandomSampler, seed: int, population: int, settings) -> BaseSampler:
    return feasible


def _guided(feasible: FeasibleRandomSampler, seed: int, population: int, settings) -> BaseSampler:
    from .guided import GuidedSampler

    if settings is None:
        raise ValueError("--sampler guided: needs the search's settings (budget, classes, OPs convention)")
    return GuidedSampler(feasible, settings, seed=seed)


SAMPLERS: dict[str, Callable[[FeasibleRandomSampler, int, int, SearchSettings | None], BaseSampler]] = {
    "nsga2": _nsga2,
    "tpe": _tpe,
    "random": _random,
    "guided": _guided,
}


def make_sampler(
    name: str,
    space: SearchSpace,
    fits: Callable[[ArchConfig], bool],
    seed: int = 0,
    population: int = 10,
    settings: SearchSettings | None = None,
    prior: dict[str, float] | None = None,
) -> BaseSampler:
    """The sampler called ``name`` (:data:`SAMPLERS`), budget-aware as above.

    ``population`` is NSGA-II's generation size and TPE's number of start-up trials. ``guided``
    (:mod:`nas.guided`) needs ``settings`` and fits ``prior`` (architecture -> top-1) where given.
    """
    if name not in SAMPLERS:
        raise ValueError(f"--sampler: unknown value {name!r} (choose from {', '.join(SAMPLERS)})")
    sampler = SAMPLERS[name](FeasibleRandomSampler(space, fits, seed), seed, population, settings)
    if prior and hasattr(sampler, "use_prior"):
        sampler.use_prior(prior)
    return sampler
