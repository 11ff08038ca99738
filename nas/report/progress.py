"""The search's progress display (stderr): trials done and running, best top-1 under budget,
size of the front, elapsed and remaining time."""

from __future__ import annotations

import sys
import time

import optuna
from optuna.trial import TrialState
from tqdm import tqdm

from ..budget import format_ops
from ..outcomes import COUNTED, Attr, Outcome
from ..rungs import front_ranks

__all__ = ["SearchProgress", "study_summary"]


def study_summary(study: optuna.Study, budget: float) -> dict:
    """Counts by outcome, trials running, best top-1 under budget and front size."""
    counts: dict[str, int] = {}
    points = []
    running = 0
    for t in study.get_trials(deepcopy=False):
        outcome = t.user_attrs.get(Attr.OUTCOME)
        if t.state == TrialState.RUNNING and outcome is None and "arch" in t.user_attrs:
            running += 1
        if outcome:
            counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == Outcome.TRAINED and t.values and t.values[1] <= budget:
            points.append((t.values[0], t.values[1]))
    unique = list(set(points))
    ranks = front_ranks(unique)
    return {
        "counts": counts,
        "running": running,
        "best": max((p[0] for p in unique), default=None),
        "front": sum(1 for r in ranks if r == 0),
    }


class SearchProgress:
    """A trials bar (total = the run's target) and, in-process, a bar for the current trial's steps."""

    def __init__(
        self, study: optuna.Study, budget: float, done: int, target: int, deadline: float | None, enabled: bool = True
    ) -> None:
        self.study, self.budget, self.deadline = study, budget, deadline
        self.enabled = enabled
        self.start = time.time()
        self.bar = tqdm(
            total=target,
            initial=done,
            desc="trials",
            unit="trial",
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=True,
            position=0,
        )
        self.steps: tqdm | None = None

    def refresh(self) -> None:
        if not self.enabled:
            return
        s = study_summary(self.study, self.budget)
        done = sum(s["counts"].get(k, 0) for k in COUNTED)
        self.bar.n = min(done, self.bar.total)
        post = {
            "running": s["running"],
            "front": s["front"],
            "best": "-" if s["best"] is None else f"{100 * s['best']:.1f}%",
        }
        if self.deadline is not None:
            post["left"] = f"{max(0, self.deadline - time.time()) / 60:.0f}min"
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()

    def trial_started(self, number: int, arch: str) -> None:
        self.refresh()
        if not self.enabled:
            return
        if self.steps is not None:
            self.steps.close()
        self.steps = tqdm(
            total=None,
            desc=f"  trial {number} {arch[:60]}",
            unit="step",
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
            position=1,
        )

    def step(self, step: int, total: int, loss: float) -> None:
        if self.steps is None:
            return
        if self.steps.total != total:
            self.steps.total = total
        self.steps.n = step
        if step % 10 == 0 or step == total:
            self.steps.set_postfix(loss=f"{loss:.3f}", refresh=False)
            self.steps.refresh()

    def close(self) -> None:
        if self.steps is not None:
            self.steps.close()
        self.refresh()
        self.bar.close()


def candidates(counts: dict) -> tuple[int, int]:
    """(candidates judged: screened out or trained, whatever came of the training; screened out)."""
    judged = (Outcome.SCREENED, Outcome.TRAINED, Outcome.PRUNED, Outcome.DIVERGED, Outcome.ERROR)
    return sum(counts.get(k, 0) for k in judged), counts.get(Outcome.SCREENED, 0)


def summary_line(s: dict, budget: float) -> str:
    c = s["counts"]
    parts = [
        f"{c.get(k, 0)} {k.replace('_', ' ')}"
        for k in (
            Outcome.TRAINED,
            Outcome.PRUNED,
            Outcome.SCREENED,
            Outcome.DUPLICATE,
            Outcome.OVER_BUDGET,
            Outcome.DIVERGED,
            Outcome.ERROR,
            Outcome.INTERRUPTED,
        )
        if c.get(k)
    ]
    best = "-" if s["best"] is None else f"{100 * s['best']:.2f}%"
    return f"trials: {', '.join(parts) or 'none'}; front {s['front']}; best top-1 under {format_ops(budget)}: {best}"
