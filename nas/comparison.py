"""The seed presets trained after a search that did not see them (``--no-seed-presets``).

A rediscovery search asks whether the search finds, unaided, what the papers designed by hand.
To answer it the report needs the papers' models scored exactly as the search scored its own
trials (same fidelity, data, training seeds), yet the sampler must never learn from them. So they
are trained once the search has reached its target, by the main process, and stored on the study
as a user attribute (``comparison``: one entry per preset), not as trials: no sampler, rung or
duplicate check ever sees them, and ``trials.csv`` holds only what the search proposed.

Each preset is stored as soon as it has trained, so Ctrl-C loses at most the one in progress, and
the same command finishes the comparison (it trains no further trial first). The report
(:mod:`nas.report.outputs`) places the presets against the front: dominated or not, and the
nearest front architecture.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

import numpy as np
import optuna
from tqdm import tqdm

from proxies import ProxyData
from proxies.train import evaluate
from search_space import PRESETS, SEED_PRESETS

from .outcomes import Attr, Outcome
from .settings import SearchSettings

__all__ = ["COMPARISON_KEY", "comparison_presets", "interrupted_comparison", "run_comparison", "stored_comparison",
           "unfinished"]

COMPARISON_KEY = "comparison"  # study user attribute: {preset: entry}
STARTED_KEY = "comparison_started"  # set when the search reached its target and the comparison began


def comparison_presets(settings: SearchSettings) -> list[str]:
    """The seed presets a search of ``settings`` could have found: in its space and within budget."""
    return [name for name in SEED_PRESETS
            if settings.space.contains(PRESETS[name].arch) and settings.fits(PRESETS[name].arch)]


def stored_comparison(study: optuna.Study) -> dict[str, dict]:
    """The presets trained after the search so far (``{}`` for a search that trained none)."""
    value = study.user_attrs.get(COMPARISON_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _train(name: str, settings: SearchSettings, data: ProxyData, device: str | None,
           on_step: Callable[[int, int, float], None] | None) -> dict:
    arch = PRESETS[name].arch
    start = time.perf_counter()
    results = []
    for i in range(settings.seeds):  # the seeds every trial of the search is trained with
        result = evaluate(arch, settings.fidelity, data, settings.seed + i, device=device, progress=on_step)
        results.append(result)
        if result.diverged:
            break
    top1s = [float(r.val_top1) for r in results]
    diverged = bool(results[-1].diverged) or not all(math.isfinite(t) for t in top1s)
    entry = {"arch": arch.encode(), "ops": settings.ops(arch), "fidelity": settings.fidelity.key(),
             "top1": None if diverged else float(np.mean(top1s)), "diverged": diverged,
             "seconds": round(time.perf_counter() - start, 2)}
    if settings.seeds > 1 and not diverged:
        entry["top1_seeds"] = [round(t, 6) for t in top1s]
        entry["top1_sd"] = float(np.std(top1s, ddof=1))
    return entry


def unfinished(study: optuna.Study, settings: SearchSettings) -> list[str]:
    """The comparison presets still to train: neither stored nor trained by the search itself
    (a preset the search found stands as its own trial)."""
    done = stored_comparison(study)
    found = {t.user_attrs.get(Attr.ARCH) for t in study.get_trials(deepcopy=False)
             if t.user_attrs.get(Attr.OUTCOME) == Outcome.TRAINED}
    return [name for name in comparison_presets(settings)
            if name not in done and PRESETS[name].arch.encode() not in found]


def interrupted_comparison(study: optuna.Study, settings: SearchSettings) -> bool:
    """Whether a comparison started and did not finish (Ctrl-C): the same command then finishes
    it instead of extending the search by another ``--trials``."""
    return bool(study.user_attrs.get(STARTED_KEY)) and bool(unfinished(study, settings))


def run_comparison(study: optuna.Study, settings: SearchSettings, data: ProxyData, *, device: str | None = None,
                   progress: bool = True) -> list[str]:
    """Train every comparison preset not stored yet, storing each as it ends; returns the names
    trained now. Ctrl-C (KeyboardInterrupt) keeps those already stored and re-raises."""
    todo = unfinished(study, settings)
    study.set_user_attr(STARTED_KEY, True)
    trained = []
    for k, name in enumerate(todo, 1):
        print(f"comparison {k}/{len(todo)}: training the seed preset {name} as the search's trials were trained"
              " (not shown to the search)", file=sys.stderr)
        with tqdm(unit="step", disable=not progress, file=sys.stderr, dynamic_ncols=True, desc=name) as bar:
            def on_step(step: int, total: int, loss: float, bar=bar) -> None:
                bar.total = total
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

            entry = _train(name, settings, data, device, on_step)
        done = stored_comparison(study) | {name: entry}  # re-read: keep what another process stored
        study.set_user_attr(COMPARISON_KEY, done)
        trained.append(name)
    return trained
