"""Search strategies replayed over the tabular benchmark (:class:`nas.analyze.pool.Pool`).

A strategy chooses, one training at a time, which architecture of the pool to train next; a
*query* returns one of that architecture's recorded results, drawn at random, so the replay carries
the real seed noise (an architecture trained once always answers its one result). Each repeat is
cross-fitted: the pool's architectures are split in two halves at random, a strategy searches the
in-budget architectures of one half and any prior it uses is fitted on the other half, never on an
architecture it is judged on; the next repeat swaps the halves. The strategies:

* ``random``: uniform draws without replacement;
* ``guided-<acq>``: :mod:`nas.proposer`'s ensemble fitted on the prior and the results so far, the
  acquisition maximised over the half's untrained architectures (``-noprior``: the same, without
  the prior, random until it has :data:`WARMUP` results);
* ``local``: from a random start, the untrained architecture nearest (fewest differing choices) to a
  point of the current front, ties at random (White et al.'s local search on a finite pool);
* ``nsga2``, ``nsga2-screen``, ``tpe``, ``gp``: Optuna's samplers as the search builds them (a
  feasible random first generation of 10), each proposal snapped to the nearest untrained
  architecture of the half; ``nsga2-screen`` is the search's default before the guided proposer,
  NSGA-II whose proposals the surrogate (fitted on the prior and the results so far) screens, one
  trained in three (:mod:`nas.screening`); ``gp`` is Optuna's ``GPSampler`` (multi-objective, with
  the budget as a constraint), warm-started with the prior as finished trials.

What a strategy returns is its best *observed* architecture; it is scored by that architecture's
mean over every recorded seed (the winner's curse is not credited). The pool differs from the space:
it is finite, and its architectures come from random draws (about half) and from searches, not
uniformly from the space.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna

from proxies.priors.surrogate import RidgeSurrogate
from proxies.scoring.pareto import places
from search_space import NUM_STAGES, ArchConfig, SearchSpace
from search_space.space import STAGE_CHOICES

from ..adapter import arch_from_params, suggest_arch
from ..proposer import EnsembleModel, acquire
from ..screening import keeps
from .pool import Pool

__all__ = ["CHANCE", "STRATEGIES", "WARMUP", "Half", "half_ids", "replay_one"]

WARMUP = 5  # results before a guided strategy without a prior fits its model
CHANCE = 0.1  # top-1 of a guess on CIFAR-10: the hypervolume's reference
POPULATION = 10  # NSGA-II's generation and TPE's / GP's start-up trials, as the search's default


@dataclass
class Half:
    """One side of a cross-fit: the indices a strategy may train, and the prior (the other side)."""

    pool: Pool
    ids: np.ndarray  # in-budget architectures of this side
    prior_ids: np.ndarray  # every architecture of the other side
    ref: tuple[float, float]  # hypervolume reference: (chance top-1, budget)
    rng: np.random.Generator

    def query(self, i: int) -> float:
        runs = self.pool.runs[i]
        return float(runs[self.rng.integers(len(runs))])


def _random(h: Half, n: int) -> list[tuple[int, float]]:
    return [(int(i), h.query(int(i))) for i in h.rng.permutation(h.ids)[:n]]


def _guided(acquisition: str, prior: bool, screen: bool = False) -> Callable[[Half, int], list[tuple[int, float]]]:
    def run(h: Half, n: int) -> list[tuple[int, float]]:
        p = h.pool
        done: list[tuple[int, float]] = []
        skipped: list[int] = []  # screened out since the last training (the pool is finite: not for good)
        prior_x = p.x[h.prior_ids] if prior else p.x[:0]
        prior_y = p.mean[h.prior_ids] if prior else p.mean[:0]
        window = _screen_window(h, done) if screen else []
        for step in range(50 * n):
            if len(done) >= n:
                break
            left = np.setdiff1d(h.ids, [i for i, _ in done] + skipped)
            if not len(left):
                break
            if len(prior_y) + len(done) < WARMUP:
                i = int(h.rng.choice(left))
            else:
                x = np.vstack([prior_x, p.x[[i for i, _ in done]]])
                y = np.concatenate([prior_y, [v for _, v in done]])
                model = EnsembleModel(seed=step).fit(x, y)
                known = [(v, p.ops[i]) for i, v in done]
                i = int(left[acquire(model.predict(p.x[left]), p.ops[left], known, h.ref, acquisition, h.rng)])
            if screen and not _screened_in(h, done, window, i):
                skipped.append(i)
                continue
            done.append((i, h.query(i)))
            skipped = []
        return done

    return run


def _screen_window(h: Half, done: list[tuple[int, float]]) -> list[tuple[float, float]]:
    """The screen's first window: random draws from the half, predicted (as the search fills it)."""
    fit = _screen_fit(h, done)
    draws = h.rng.choice(h.ids, size=min(32, len(h.ids)), replace=False)
    return list(zip(fit.predict([h.pool.archs[i] for i in draws]), h.pool.ops[draws], strict=True))


def _screened_in(h: Half, done: list[tuple[int, float]], window: list[tuple[float, float]], i: int) -> bool:
    """The search's screen (one in three, against the last 32 proposals) on proposal ``i``; extends ``window``."""
    score = float(_screen_fit(h, done).predict([h.pool.archs[i]])[0])
    kept, _ = keeps((score, h.pool.ops[i]), window[-32:], 3)
    window.append((score, h.pool.ops[i]))
    return kept


def _codes(p: Pool) -> np.ndarray:
    """Each architecture's choices as a row of values (width, depth, then every stage choice)."""
    rows = []
    for a in p.archs:
        arch = ArchConfig.decode(a)
        rows.append([arch.width, arch.depth] + [str(getattr(s, c)) for s in arch.stages for c in STAGE_CHOICES])
    return np.array(rows, dtype=object)


def _local(h: Half, n: int) -> list[tuple[int, float]]:
    codes = _codes(h.pool)
    first = int(h.rng.choice(h.ids))
    done = [(first, h.query(first))]
    while len(done) < n:
        pts = [(v, h.pool.ops[i]) for i, v in done]
        front = [done[j][0] for j, place in enumerate(places(pts)) if place == 0] or [done[0][0]]
        left = np.setdiff1d(h.ids, [i for i, _ in done])
        dist = np.min([(codes[left] != codes[f]).sum(axis=1) for f in front], axis=0)
        near = left[dist == dist.min()]
        i = int(h.rng.choice(near))
        done.append((i, h.query(i)))
    return done


def _suggest_all(trial: optuna.Trial, space: SearchSpace) -> ArchConfig:
    """Every choice suggested, expansion too (ignored for cascade): a fixed-length encoding for GPSampler,
    which samples only the parameters every trial has."""
    choices = space.choices()
    params = {name: trial.suggest_categorical(name, values) for name, values in choices.items()}
    return arch_from_params(params, space)


def _optuna(
    make: Callable[[int, Half], optuna.samplers.BaseSampler],
    screen: bool = False,
    fixed: bool = False,
    warm: bool = False,
) -> Callable[[Half, int], list[tuple[int, float]]]:
    def run(h: Half, n: int) -> list[tuple[int, float]]:
        p = h.pool
        space = SearchSpace(per_stage=True)
        codes = _codes(p)
        seed = int(h.rng.integers(2**31))
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=make(seed, h))
        suggest = _suggest_all if fixed else suggest_arch
        dists = {name: optuna.distributions.CategoricalDistribution(v) for name, v in space.choices().items()}
        if warm:  # the prior as finished trials (their parameters in the fixed-length encoding)
            for i in h.prior_ids:
                over = {"constraints:ops_over_budget": float(p.ops[i] - h.ref[1])}
                study.add_trial(
                    optuna.trial.create_trial(
                        params=_fixed_params(ArchConfig.decode(p.archs[i]), space),
                        distributions=dists,
                        values=[float(p.mean[i]), float(p.ops[i])],
                        system_attrs=over,
                    )
                )
        done: list[tuple[int, float]] = []
        window = _screen_window(h, done) if screen else []
        for _ in range(50 * n):
            if len(done) >= n:
                break
            trial = study.ask()
            arch = suggest(trial, space)
            left = np.setdiff1d(h.ids, [i for i, _ in done])
            target = np.array(
                [arch.width, arch.depth] + [str(getattr(s, c)) for s in arch.stages for c in STAGE_CHOICES],
                dtype=object,
            )
            dist = (codes[left] != target).sum(axis=1)
            i = int(h.rng.choice(left[dist == dist.min()]))
            if screen and not _screened_in(h, done, window, i):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                continue
            study.tell(trial, state=optuna.trial.TrialState.FAIL)  # the snapped architecture is told instead
            value = h.query(i)
            done.append((i, value))
            study.enqueue_trial(
                _fixed_params(ArchConfig.decode(p.archs[i]), space)
                if fixed
                else _params(ArchConfig.decode(p.archs[i]), space)
            )
            told = study.ask()
            suggest(told, space)
            told.set_constraint("ops_over_budget", float(p.ops[i] - h.ref[1]))  # as the search records it
            study.tell(told, [value, float(p.ops[i])])
        return done

    return run


def _screen_fit(h: Half, done: list[tuple[int, float]]) -> RidgeSurrogate:
    p = h.pool
    own = {p.archs[i]: v for i, v in done}
    data = {**{p.archs[i]: float(p.mean[i]) for i in h.prior_ids}, **own}
    return RidgeSurrogate(permutations=0).fit(list(data), list(data.values()))


def _params(arch: ArchConfig, space: SearchSpace) -> dict:
    from ..adapter import arch_params

    return arch_params(arch, space)


def _fixed_params(arch: ArchConfig, space: SearchSpace) -> dict:
    params = _params(arch, space)
    for i in range(NUM_STAGES):
        params.setdefault(f"s{i}.expansion", space.expansions[0])
    return params


def _nsga2(seed: int, h: Half) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(population_size=POPULATION, seed=seed)


def _tpe(seed: int, h: Half) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(n_startup_trials=POPULATION, seed=seed)


def _gp(seed: int, h: Half) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=POPULATION)  # reads the trials' constraints


STRATEGIES: dict[str, Callable[[Half, int], list[tuple[int, float]]]] = {
    "random": _random,
    "guided-ehvi": _guided("ehvi", prior=True),
    "guided-ucb": _guided("ucb", prior=True),
    "guided-ts": _guided("ts", prior=True),
    "guided-ehvi-noprior": _guided("ehvi", prior=False),
    "guided-ehvi-screen": _guided("ehvi", prior=True, screen=True),
    "local": _local,
    "nsga2": _optuna(_nsga2),
    "nsga2-screen": _optuna(_nsga2, screen=True),
    "tpe": _optuna(_tpe),
    "gp": _optuna(_gp, fixed=True, warm=True),
}


def half_ids(pool: Pool, repeat: int, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Repeat ``repeat``'s side of the cross-fit: (its in-budget architectures, every architecture of the
    other side). Repeats ``2k`` and ``2k + 1`` split the pool alike, each searching one half."""
    split = np.random.default_rng([7, repeat // 2]).permutation(len(pool))
    sides = (split[: len(pool) // 2], split[len(pool) // 2 :])
    mine, other = sides[repeat % 2], sides[1 - repeat % 2]
    return np.sort(mine[pool.ops[mine] <= budget]), np.sort(other)


def replay_one(pool: Pool, strategy: str, repeat: int, n: int, budget: float) -> list[tuple[int, float]]:
    """One repeat of ``strategy``: ``n`` trainings on its side of the cross-fit (:func:`half_ids`);
    returns (pool index, observed top-1) in the order trained."""
    optuna.logging.set_verbosity(logging.ERROR)
    ids, prior = half_ids(pool, repeat, budget)
    h = Half(pool, ids, prior, (CHANCE, budget), np.random.default_rng([11, repeat, zlib.crc32(strategy.encode())]))
    return STRATEGIES[strategy](h, min(n, len(ids)))
