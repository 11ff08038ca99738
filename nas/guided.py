"""``--sampler guided``: an Optuna sampler that chooses what to train from a model of the space.

Each new trial's architecture is chosen whole, when its first parameter is asked, as
:class:`~nas.samplers.FeasibleRandomSampler` does, so the Optuna loop, PostgreSQL workers and Ray
Tune's ``OptunaSearch`` use it unchanged:

1. **Data**: the architectures this study trained to full fidelity and their top-1, and the shipped
   prior where it applies (:meth:`GuidedSampler.use_prior`; the study's own result replaces the
   prior's for an architecture both hold).
2. **Model**: :class:`nas.proposer.EnsembleModel`, refitted at every proposal. With fewer than
   :data:`WARMUP` results (no prior) the proposal is a feasible random draw.
3. **Candidates**: ``candidates`` uniform draws from the space, of which those within the budget
   are kept (and pooled across proposals), plus mutations (one and two choices changed) of the best
   known architectures within the budget: the front of the study's own results and of the data.
   Never an architecture the study holds in any state, nor one this process proposed before.
4. **Acquisition** (:data:`nas.proposer.ACQUISITIONS`): the hypervolume improvement of (top-1 up,
   OPs down) from (chance, budget), maximised over the candidates. Trials in flight (running,
   proposed, no result yet) count as measured at their predicted top-1 (a Kriging believer), so
   parallel workers and Ray's concurrent trials get distinct proposals that spread over the front.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import TrialState

from search_space import ArchConfig

from . import compat
from .adapter import answer, arch_params
from .outcomes import Attr, Outcome
from .proposer import ACQUISITIONS, EnsembleModel, acquire, features
from .settings import SearchSettings

__all__ = ["CANDIDATES", "WARMUP", "GuidedSampler"]

WARMUP = 5  # results before the model is fitted (random draws until then)
CANDIDATES = 600  # uniform draws per proposal (those within the budget are kept, pooled across proposals)
MUTATIONS = 24  # mutations of each of the best known architectures per proposal
ELITE = 8  # how many of those
ACQUISITION = "ucb"  # the replay's best by mean hypervolume at 36 trainings (results/strategies/strategies.csv)


class GuidedSampler(BaseSampler):
    """Proposes the feasible, untrained architecture that maximises ``acquisition`` (see the module)."""

    def __init__(
        self,
        feasible,
        settings: SearchSettings,
        seed: int = 0,
        acquisition: str = ACQUISITION,
        candidates: int = CANDIDATES,
        members: int = 16,
    ) -> None:
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"--acquisition: unknown value {acquisition!r} (choose from {', '.join(ACQUISITIONS)})")
        self._feasible = feasible
        self._settings = settings
        self._seed = seed
        self._acquisition = acquisition
        self._candidates = candidates
        self._members = members
        self._prior: dict[str, float] = {}
        self._reservoir: dict[str, float] = {}  # feasible random draws so far: arch -> OPs
        self._features: dict[str, np.ndarray] = {}
        self._members_of_space: dict[str, bool] = {}
        self._proposed: set[str] = set()
        self._cache: tuple[int, dict[str, Any]] | None = None
        self._fallback = optuna.samplers.RandomSampler(seed=seed)
        self._rng = np.random.default_rng(seed)
        self.last_seconds = 0.0  # the model's time for the last proposal (benchmark)

    def use_prior(self, points: dict[str, float]) -> None:
        """Fit on these (architecture, top-1) results too: the shipped prior, where it applies."""
        self._prior = dict(points)

    def reseed_rng(self) -> None:
        self._fallback.reseed_rng()
        self._rng = np.random.default_rng()

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        return {}

    def sample_independent(self, study, trial, param_name: str, param_distribution) -> Any:
        if self._cache is None or self._cache[0] != compat.trial_id(trial):
            arch = self.propose(study, trial.number)
            self._proposed.add(arch.encode())
            self._cache = (compat.trial_id(trial), arch_params(arch, self._settings.space))
        return answer(self._cache[1], self._fallback, study, trial, param_name, param_distribution)

    # -- the proposal ---------------------------------------------------------------------------
    def _state(self, study: optuna.Study) -> tuple[dict[str, float], set[str], list[str]]:
        """(own results: arch -> top-1 at full fidelity, every arch the study holds, archs in flight)."""
        own: dict[str, float] = {}
        seen, flight = set(self._proposed), []
        fidelity = self._settings.fidelity.key()
        for t in compat.cached_trials(study, tuple(TrialState)):
            a = t.user_attrs
            arch = a.get(Attr.ARCH)
            if arch is None:
                continue
            seen.add(arch)
            if (
                t.state == TrialState.COMPLETE
                and a.get(Attr.OUTCOME) == Outcome.TRAINED
                and a.get(Attr.FIDELITY) == fidelity
                and t.values
            ):
                own.setdefault(arch, float(t.values[0]))
            elif t.state in (TrialState.RUNNING, TrialState.WAITING) and Attr.OUTCOME not in a:
                flight.append(arch)
        return own, seen, list(dict.fromkeys(a for a in flight if a not in own))

    def _x(self, archs: list[str]) -> np.ndarray:
        for a in archs:
            if a not in self._features:
                self._features[a] = features(a)
        return np.stack([self._features[a] for a in archs])

    def _in_space(self, arch: str) -> bool:
        """Whether ``arch`` (a prior's result may lie outside a paper's space) is a point of the space searched."""
        if arch not in self._members_of_space:
            self._members_of_space[arch] = self._settings.space.contains(ArchConfig.decode(arch))
        return self._members_of_space[arch]

    def _ops(self, arch: str) -> float:
        return self._settings.ops(ArchConfig.decode(arch))

    def _draw_candidates(self, rng: np.random.Generator, elite: list[str], seen: set[str]) -> dict[str, float]:
        space, s = self._settings.space, self._settings
        for _ in range(self._candidates):
            arch = space.sample(rng)
            ops = s.ops(arch)
            if ops <= s.budget:
                self._reservoir.setdefault(arch.encode(), ops)
        cands = {a: o for a, o in self._reservoir.items() if a not in seen}
        for a in elite:
            base = ArchConfig.decode(a)
            for m in range(MUTATIONS):
                new = space.mutate(base, rng)
                if m % 2:
                    new = space.mutate(new, rng)
                key = new.encode()
                if key not in seen and key not in cands:
                    ops = s.ops(new)
                    if ops <= s.budget:
                        cands[key] = ops
        return cands

    def propose(self, study: optuna.Study, number: int) -> ArchConfig:
        """The architecture of trial ``number``."""
        start = time.process_time()
        rng = np.random.default_rng([self._seed, number])
        own, seen, flight = self._state(study)
        data = {**self._prior, **own}
        if len(data) < WARMUP:
            for k in range(1000):
                arch = self._feasible.draw(number + 100_003 * k)
                if arch.encode() not in seen:
                    return arch
            return arch
        archs = list(data)
        model = EnsembleModel(self._members, seed=number).fit(self._x(archs), list(data.values()))
        ref = (1.0 / self._settings.num_classes, float(self._settings.budget))
        fitting = [a for a in archs if a in own] + [a for a in archs if a not in own and a in self._prior]
        inside = [a for a in fitting if self._ops(a) <= self._settings.budget and self._in_space(a)]
        elite = sorted(inside, key=lambda a: -data[a])[:ELITE]
        cands = self._draw_candidates(rng, elite, seen)
        if not cands:
            return self._feasible.draw(number)
        names = list(cands)
        known = [(v, self._ops(a)) for a, v in own.items()]
        if flight:  # believed at their predicted top-1
            known += [(float(p), self._ops(a)) for p, a in zip(model.predict(self._x(flight))[0], flight, strict=True)]
        pred = model.predict(self._x(names))
        pick = acquire(pred, np.array([cands[a] for a in names]), known, ref, self._acquisition, rng)
        self.last_seconds = time.process_time() - start
        return ArchConfig.decode(names[pick])
