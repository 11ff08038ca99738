"""How long the guided sampler takes to propose, with a large study (``python benchmarks/guided_speed.py``).

Fills an in-memory study with ``trials`` finished trials (feasible random architectures with a
synthetic top-1: the model's cost depends on how many results it fits, not on their values), gives
the sampler the shipped prior, then times ``proposals`` new proposals (CPU seconds of the sampler's
own work: fit, candidates, acquisition). Writes a JSON record.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import optuna

from proxies import Fidelity, load_prior, machine_tag
from search_space.cli import ArgumentParser, int_at_least, run_cli
from search_space.files import atomic_write_text

from ..adapter import arch_params, suggest_arch
from ..budget import parse_budget
from ..outcomes import Attr, Outcome
from ..samplers import FeasibleRandomSampler
from ..settings import SearchSettings

__all__ = ["main", "proposal_seconds"]


def proposal_seconds(trials: int, proposals: int, budget: float, seed: int = 0) -> dict:
    from ..guided import GuidedSampler

    settings = SearchSettings(budget=int(budget), fidelity=Fidelity(), num_classes=10)
    feasible = FeasibleRandomSampler(settings.space, settings.fits, seed)
    sampler = GuidedSampler(feasible, settings, seed=seed)
    prior = load_prior()
    sampler.use_prior(dict(zip(prior.archs, prior.top1, strict=True)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    dists = {n: optuna.distributions.CategoricalDistribution(v) for n, v in settings.space.choices().items()}
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    while len(seen) < trials:
        arch = feasible.draw(len(seen) + 10_000 * int(rng.integers(1000)))
        key = arch.encode()
        if key in seen:
            continue
        seen.add(key)
        params = arch_params(arch, settings.space)
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={k: dists[k] for k in params},
                values=[float(rng.uniform(0.1, 0.4)), settings.ops(arch)],
                user_attrs={Attr.ARCH: key, Attr.OUTCOME: Outcome.TRAINED, Attr.FIDELITY: settings.fidelity.key()},
            )
        )
    seconds, wall = [], []
    for _ in range(proposals):
        trial = study.ask()
        start = time.perf_counter()
        suggest_arch(trial, settings.space)
        wall.append(time.perf_counter() - start)
        seconds.append(sampler.last_seconds)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return {
        "trials_in_study": trials,
        "prior": len(prior.archs),
        "proposals": proposals,
        "budget": budget,
        "cpu_seconds_mean": float(np.mean(seconds)),
        "cpu_seconds_max": float(np.max(seconds)),
        "wall_seconds_mean": float(np.mean(wall)),
        "wall_seconds_max": float(np.max(wall)),
        "machine": machine_tag("cpu"),
    }


def _main(argv: list[str] | None) -> int:
    p = ArgumentParser(
        prog="python benchmarks/guided_speed.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--trials", type=int_at_least(0), default=1000, help="finished trials in the study (default 1000)")
    p.add_argument("--proposals", type=int_at_least(1), default=10, help="proposals timed (default 10)")
    p.add_argument("--budget", default="50M", help="OPs budget (default 50M)")
    p.add_argument("--out", type=Path, help="JSON file to write (default: print only)")
    args = p.parse_args(argv)
    rec = proposal_seconds(args.trials, args.proposals, parse_budget(args.budget))
    rec["command"] = "python benchmarks/guided_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = json.dumps(rec, indent=2)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
