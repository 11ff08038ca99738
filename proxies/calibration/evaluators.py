"""Candidate evaluators: cheap ways to score an architecture, and the runs they share.

An :class:`Evaluator` names the runs it needs and how it turns them into one score per
architecture, higher is better. A *run* is one training (``kind="train"``) or one zero-cost
computation (``kind`` = a :data:`proxies.scoring.zero_cost.ZERO_COST` name), identified by
``(kind, fidelity key, seed, arch)``; several evaluators read the same run (``default`` and
``default-sotl`` share theirs, ``default-mean3`` adds seeds 1 and 2 to ``default``'s seed 0).

Scores (sign conventions):

* training evaluators: validation top-1 (``val_top1``), or ``-SoTL-E`` (``neg_sotl_e``: minus the
  sum of the training losses over the last epoch, so that a lower loss scores higher); a run that
  diverged scores ``-inf`` (the worst score, still ranked) rather than NaN (which would drop the
  architecture and flatter the evaluator); several seeds: the mean of the per-seed scores, NaN
  until every seed has run;
* zero-cost evaluators: the score of :func:`proxies.scoring.zero_cost.zero_cost_score` as it is. The
  baselines keep that module's sign: ``ops`` = +OPs and ``params`` = +parameters, i.e. "bigger
  is better" (OPs at the deployment input, of the architecture itself, not the width-scaled one);
  ``synflow`` is already a log;
* ``screen``: the search's screening rule (:mod:`proxies.scoring.pareto`), minus each architecture's place
  on (synflow, OPs) within the set being compared: what screens proposals, measured as it is;
* combinations (``a+b``): the weighted mean of the members' per-architecture ranks
  (``scipy.stats.rankdata``, ties averaged) within the set of architectures being compared (one
  paper table, or the reference set), over the architectures every member scores. The score of an
  architecture therefore depends on the set. ``weights=None`` means equal weights; ``fit_weights``
  marks the evaluators whose weight (on the first member; the second gets 1 - w) is chosen on the
  papers' tables only (:mod:`proxies.calibration.rank_fidelity`), never on the reference set.

CPU cost of an evaluator per architecture: the sum of the ``time.process_time()`` deltas of the
distinct runs it needs (a combination: the union of its members' runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..scoring.fidelity import FIDELITIES, Fidelity
from ..scoring.pareto import places
from ..scoring.zero_cost import BASELINES, ZERO_COST

__all__ = ["EVALUATORS", "METRICS", "Evaluator", "RunSpec", "base_fidelities", "check_evaluators", "combine",
           "cpu_per_arch", "evaluator_runs", "final_scores", "is_diverged", "make_evaluators", "ordered",
           "pareto_place", "rank_average", "run_order", "seed_scores"]

METRICS = ("val_top1", "neg_sotl_e", "score")


@dataclass(frozen=True)
class RunSpec:
    """One kind of run, without its architecture: ``kind`` ("train" or a zero-cost name) at a
    fidelity with a training seed (the data selection is always data seed 0)."""

    kind: str
    fidelity: Fidelity
    seed: int = 0

    def key(self, arch: str) -> tuple[str, str, int, str]:
        return (self.kind, self.fidelity.key(), self.seed, arch)

    def cost(self) -> float:
        """A rough relative cost (images through the network), only used to order the work."""
        if self.kind == "train":
            f = self.fidelity
            return f.epochs * (f.train_subset * f.width_scale**2 + f.val_size / 3)
        return 1.0 if self.kind in BASELINES else 100.0


@dataclass(frozen=True)
class Evaluator:
    """A named way to score architectures: base (``runs`` + ``metric``) or combination (``members``)."""

    name: str
    description: str
    runs: tuple[RunSpec, ...] = ()  # base evaluators: one run per seed, the score is their mean
    metric: str = "val_top1"  # val_top1 | neg_sotl_e | score (a zero-cost run's score)
    members: tuple[str, ...] = ()  # combinations: names of base evaluators
    weights: tuple[float, ...] | None = None  # combinations: None = equal
    fit_weights: bool = False  # combinations of two: weight chosen on the papers' tables
    combine: str = "rank"  # combinations: "rank" (weighted mean rank) | "pareto" (screening place: score, cost)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"evaluator {self.name!r}: unknown metric {self.metric!r}")
        if bool(self.runs) == bool(self.members):
            raise ValueError(f"evaluator {self.name!r}: give either runs or members")
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ValueError(f"evaluator {self.name!r}: {len(self.weights)} weights for {len(self.members)} members")
        if self.fit_weights and len(self.members) != 2:
            raise ValueError(f"evaluator {self.name!r}: a fitted weight needs exactly two members")
        if self.combine not in ("rank", "pareto"):
            raise ValueError(f"evaluator {self.name!r}: unknown combination {self.combine!r}")
        if self.combine == "pareto" and (len(self.members) != 2 or self.weights is not None or self.fit_weights):
            raise ValueError(f"evaluator {self.name!r}: a Pareto place needs two members (score, cost), no weights")

    @property
    def is_combination(self) -> bool:
        return bool(self.members)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs)


def base_fidelities() -> dict[str, Fidelity]:
    """The fidelities the registry is built from (tests inject tiny ones)."""
    default = FIDELITIES["default"]  # 2 epochs x 3,000 images, val 2,000
    return {
        "default": default,
        # the same 6,000 image presentations as default, each image once (the one-cycle schedule
        # anneals the LR to ~0 at the end of any length); the 6,000 include default's 3,000
        # (stratified_subset is nested) and the validation split is the same
        "steps-6k": replace(default, epochs=1, train_subset=6000),
        "steps-12k": replace(default, epochs=1, train_subset=12000),
        # a sixth of default's images: cheap enough to screen proposals by training, if it ranks well
        "steps-1k": replace(default, epochs=1, train_subset=1000),
        "ws0.5": replace(default, width_scale=0.5),
    }


def make_evaluators(fidelities: Mapping[str, Fidelity] | None = None) -> dict[str, Evaluator]:
    """The registry, over ``fidelities`` (keys as in :func:`base_fidelities`)."""
    f = dict(base_fidelities() if fidelities is None else fidelities)
    d, s1, s6, s12, ws = f["default"], f["steps-1k"], f["steps-6k"], f["steps-12k"], f["ws0.5"]
    train = RunSpec("train", d, 0)
    evs = [
        Evaluator("default", f"val top-1, {d.epochs} ep x {d.train_subset} images, seed 0", (train,)),
        Evaluator("default-sotl", "-SoTL-E of default's runs", (train,), "neg_sotl_e"),
        Evaluator("default-mean3", "mean val top-1 of default over seeds 0, 1, 2",
                  tuple(RunSpec("train", d, s) for s in (0, 1, 2))),
        Evaluator("steps-1k", f"val top-1, {s1.epochs} ep x {s1.train_subset} images, seed 0",
                  (RunSpec("train", s1, 0),)),
        Evaluator("steps-6k", f"val top-1, {s6.epochs} ep x {s6.train_subset} images, seed 0",
                  (RunSpec("train", s6, 0),)),
        Evaluator("steps-12k", f"val top-1, {s12.epochs} ep x {s12.train_subset} images, seed 0",
                  (RunSpec("train", s12, 0),)),
        Evaluator("steps-12k-sotl", "-SoTL-E of steps-12k's runs", (RunSpec("train", s12, 0),), "neg_sotl_e"),
        Evaluator("ws0.5", f"val top-1 of default at width_scale {ws.width_scale:g}", (RunSpec("train", ws, 0),)),
    ]
    for name in ("params", "ops", "synflow", "naswot", "snip", "grad_norm", "jacob_cov"):
        if name not in ZERO_COST:
            raise ValueError(f"zero-cost proxy {name!r} is not registered")
        what = {"params": "+parameters (bigger is better)", "ops": "+OPs at 224x224 (bigger is better)"}
        evs.append(Evaluator(name, what.get(name, f"zero-cost {name} at default's data, seed 0"),
                             (RunSpec(name, d, 0),), "score"))
    evs.append(Evaluator("screen", "the search's screening rank (nas.screening): place on synflow (higher) and"
                         " OPs (lower), by domination count, then crowding distance", members=("synflow", "ops"),
                         combine="pareto"))
    for a, b in (("default", "synflow"), ("default", "ops"), ("steps-12k", "synflow")):
        evs.append(Evaluator(f"{a}+{b}", f"mean rank of {a} and {b} (equal weights)", members=(a, b)))
        evs.append(Evaluator(f"{a}+{b}@fit", f"weighted mean rank of {a} and {b}, weight fitted on the papers'"
                             " tables (leave-one-table-out)", members=(a, b), fit_weights=True))
    registry = {e.name: e for e in evs}
    for e in evs:
        for m in e.members:
            if m not in registry or registry[m].is_combination:
                raise ValueError(f"evaluator {e.name!r}: member {m!r} is not a base evaluator")
    return registry


EVALUATORS: dict[str, Evaluator] = make_evaluators()


def check_evaluators(names: Iterable[str], registry: Mapping[str, Evaluator] | None = None,
                     option: str = "--evaluators") -> list[str]:
    """``names`` (all of the registry when empty), each a known evaluator."""
    registry = EVALUATORS if registry is None else registry
    names = [n.strip() for n in names if n.strip()] or list(registry)
    for n in names:
        if n not in registry:
            raise ValueError(f"{option}: unknown evaluator {n!r} (choose from {', '.join(registry)})")
    return list(dict.fromkeys(names))


def evaluator_runs(ev: Evaluator, registry: Mapping[str, Evaluator]) -> tuple[RunSpec, ...]:
    """The distinct runs ``ev`` needs (a combination: its members')."""
    if not ev.is_combination:
        return tuple(dict.fromkeys(ev.runs))
    return tuple(dict.fromkeys(r for m in ev.members for r in registry[m].runs))


def ordered(names: Sequence[str], registry: Mapping[str, Evaluator]) -> list[str]:
    """``names`` cheapest first (estimated cost of their runs; ties keep the given order)."""
    cost = {n: sum(r.cost() for r in evaluator_runs(registry[n], registry)) for n in names}
    return sorted(names, key=lambda n: cost[n])


def run_order(names: Sequence[str], registry: Mapping[str, Evaluator]) -> list[RunSpec]:
    """Every run kind the evaluators ``names`` need, cheapest evaluator first."""
    return list(dict.fromkeys(r for n in ordered(names, registry) for r in evaluator_runs(registry[n], registry)))


# --- scores from the run cache ------------------------------------------------------------------------


def is_diverged(value: object) -> bool:
    """Whether a run's ``diverged`` field (a bool, or its text in a CSV) says it diverged."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def _value(row: Mapping, metric: str) -> float:
    if is_diverged(row.get("diverged")):
        return -math.inf
    if metric == "neg_sotl_e":
        return -float(row["sotl_e"])
    return float(row[metric])


def _index(runs: pd.DataFrame) -> dict[tuple, Mapping]:
    return {(r["kind"], r["fidelity"], int(r["seed"]), r["arch"]): r for r in runs.to_dict("records")}


def seed_scores(ev: Evaluator, runs: pd.DataFrame) -> pd.DataFrame:
    """A base evaluator's per-seed scores: columns arch, seed, score (only runs that exist)."""
    if ev.is_combination:
        raise ValueError(f"evaluator {ev.name!r} is a combination: it has no per-seed scores")
    index = _index(runs)
    rows = []
    for arch in dict.fromkeys(runs["arch"]) if len(runs) else ():
        for spec in ev.runs:
            row = index.get(spec.key(arch))
            if row is not None:
                rows.append({"arch": arch, "seed": spec.seed, "score": _value(row, ev.metric)})
    return pd.DataFrame(rows, columns=["arch", "seed", "score"])


def final_scores(ev: Evaluator, runs: pd.DataFrame) -> pd.Series:
    """A base evaluator's score per architecture: the mean over its seeds, for the architectures
    whose every seed has run (an error row scores NaN and drops the architecture)."""
    per = seed_scores(ev, runs)
    g = per.groupby("arch", sort=False)["score"]
    complete = g.size() == len(ev.runs)
    with np.errstate(invalid="ignore"):
        mean = g.agg(lambda s: float(np.mean(s.to_numpy(dtype=float))))
    return mean[complete & mean.notna()].rename(ev.name)


def rank_average(members: Sequence[pd.Series], weights: Sequence[float] | None = None,
                 archs: Iterable[str] | None = None) -> pd.Series:
    """Weighted mean of the members' ranks (1 = worst; ties averaged) over the architectures of
    ``archs`` (default: all) that every member scores; higher is better."""
    weights = [1.0] * len(members) if weights is None else list(weights)
    if len(weights) != len(members) or not members or sum(weights) <= 0 or min(weights) < 0:
        raise ValueError(f"rank_average: weights {weights} for {len(members)} members")
    common = pd.Index(list(dict.fromkeys(archs))) if archs is not None else members[0].index
    for m in members:
        common = common[common.isin(m.dropna().index)]
    total = np.zeros(len(common))
    for m, w in zip(members, weights, strict=True):
        total += w * rankdata(m.loc[common].to_numpy(dtype=float))
    return pd.Series(total / sum(weights), index=common, dtype=float)


def pareto_place(score: pd.Series, cost: pd.Series, archs: Iterable[str] | None = None) -> pd.Series:
    """Minus each architecture's place (:func:`proxies.scoring.pareto.places`: 0 best) on ``score`` (higher is
    better) and ``cost`` (lower is better) within ``archs`` (default: all) that both score; higher
    is better, as every evaluator's score."""
    common = pd.Index(list(dict.fromkeys(archs))) if archs is not None else score.index
    common = common[common.isin(score.dropna().index) & common.isin(cost.dropna().index)]
    pts = list(zip(score.loc[common].astype(float), cost.loc[common].astype(float), strict=True))
    return pd.Series([-float(p) for p in places(pts)], index=common, dtype=float)


def combine(ev: Evaluator, members: Sequence[pd.Series], weights: Sequence[float] | None = None,
            archs: Iterable[str] | None = None) -> pd.Series:
    """A combination's scores within the set ``archs``: its members' weighted mean rank, or the
    screening's Pareto place (``combine="pareto"``: the second member is the cost)."""
    if ev.combine == "pareto":
        return pareto_place(members[0], members[1], archs)
    return rank_average(members, weights, archs)


def cpu_per_arch(ev: Evaluator, runs: pd.DataFrame, registry: Mapping[str, Evaluator]) -> float:
    """Mean over the architectures with every run of ``ev`` of the summed CPU seconds of those runs."""
    specs = evaluator_runs(ev, registry)
    index = _index(runs)
    totals = []
    for arch in dict.fromkeys(runs["arch"]) if len(runs) else ():
        rows = [index.get(s.key(arch)) for s in specs]
        if all(r is not None for r in rows):
            totals.append(sum(float(r["cpu_seconds"]) for r in rows))
    return float(np.mean(totals)) if totals else math.nan
