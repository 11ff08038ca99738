"""The seed presets trained after a search that did not see them (``--no-seed-presets``).

A rediscovery search asks whether the search finds, unaided, what the papers designed by hand.
To answer it the report needs the papers' models scored exactly as the search scored its own
trials (same fidelity, data, training seeds, ``--trial-timeout``), yet the sampler must never
learn from them. So they are trained once the search holds its ``--trials``, and each is stored
on the study as a user attribute (``binas:comparison:<preset>``), not as a trial: no sampler,
rung or duplicate check ever sees them, and ``trials.csv`` holds only what the search proposed.

A preset the search itself trained (or saw diverge) stands as its own trial and is not trained
again; one it stopped at a rung is trained to full fidelity here. Each preset is stored as soon as
it ends (a training error is stored as such, as a trial's would be), so Ctrl-C loses at most the
one in progress, and the same command finishes the comparison before it extends the search.
Several processes sharing one study (``--workers``, machines on one storage) split the presets:
each claims one (owner and heartbeat, as trials do) before it trains it, and takes over a claim
whose owner died. ``--timeout`` stops the comparison between presets.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Callable

import numpy as np
import optuna
from tqdm import tqdm

from proxies import ProxyData, machine_tag
from proxies.scoring.train import evaluate
from search_space import PRESETS, SEED_PRESETS

from .backends.loop import count_trained
from .backends.stale import HEARTBEAT_S, owner_gone, owner_id
from .outcomes import Attr, Outcome
from .settings import SearchSettings
from .study import COMPARISON_PREFIX, stored_comparison

__all__ = [
    "ComparisonRun",
    "comparison_pending",
    "comparison_presets",
    "run_comparison",
    "stored_comparison",
    "unfinished",
]

_CLAIM = "binas:comparing:"  # + preset name: {"owner", "heartbeat"} while a process trains it
_SEEN = (Outcome.TRAINED, Outcome.DIVERGED)  # a search trial with this outcome stands for the preset


def comparison_presets(settings: SearchSettings) -> list[str]:
    """The seed presets a search of ``settings`` could have found: in its space and within budget."""
    return [
        name
        for name in SEED_PRESETS
        if settings.space.contains(PRESETS[name].arch) and settings.fits(PRESETS[name].arch)
    ]


def _searched(study: optuna.Study) -> set[str]:
    """Architectures a trial of the search trained to the end (or saw diverge)."""
    return {
        t.user_attrs.get(Attr.ARCH) for t in study.get_trials(deepcopy=False) if t.user_attrs.get(Attr.OUTCOME) in _SEEN
    }


def unfinished(study: optuna.Study, settings: SearchSettings) -> list[str]:
    """The comparison presets still to train: neither stored nor settled by a trial of the search."""
    done, seen = stored_comparison(study), _searched(study)
    return [
        name for name in comparison_presets(settings) if name not in done and PRESETS[name].arch.encode() not in seen
    ]


def comparison_pending(study: optuna.Study, settings: SearchSettings, target: object) -> bool:
    """Whether the search holds its stored target (``binas:target``) and presets are left to compare:
    the same command then finishes the comparison instead of extending the search."""
    return isinstance(target, int) and count_trained(study)[0] >= target and bool(unfinished(study, settings))


def _claim(study: optuna.Study, name: str) -> bool:
    """Claim ``name`` for this process unless a live process holds it (a dead one's claim is taken over).
    Two processes that claim in the same instant may both train it: the later result is kept."""
    held = study.user_attrs.get(_CLAIM + name)
    if (
        isinstance(held, dict)
        and held.get("owner") != owner_id()
        and not owner_gone(str(held.get("owner", "")), float(held.get("heartbeat", 0.0)), time.time())
    ):
        return False
    study.set_user_attr(_CLAIM + name, {"owner": owner_id(), "heartbeat": time.time()})
    return True


class ComparisonRun:
    """Trains the presets left, one at a time; what it did, for the summary line."""

    def __init__(
        self,
        study: optuna.Study,
        settings: SearchSettings,
        data: ProxyData,
        *,
        device: str | None = None,
        progress: bool = True,
        deadline: float | None = None,
        trial_timeout: float | None = None,
        check_stop: Callable[[], None] | None = None,
    ) -> None:
        self.study, self.settings, self.data, self.device = study, settings, data, device
        self.progress, self.deadline, self.trial_timeout = progress, deadline, trial_timeout
        self.check_stop = check_stop or (lambda: None)
        self.trained: list[str] = []
        self.elsewhere: list[str] = []  # claimed by another live process
        self.timed_out = False

    def run(self) -> ComparisonRun:
        for name in unfinished(self.study, self.settings):
            if self.deadline is not None and time.time() >= self.deadline:
                self.timed_out = True
                break
            if name not in unfinished(self.study, self.settings):  # another process stored it meanwhile
                continue
            if not _claim(self.study, name):
                self.elsewhere.append(name)
                continue
            print(
                f"comparison: training the seed preset {name} as the search's trials were trained (not shown to"
                " the search)",
                file=sys.stderr,
            )
            self.study.set_user_attr(COMPARISON_PREFIX + name, self._train(name))
            self.trained.append(name)
        return self

    def _train(self, name: str) -> dict:
        s = self.settings
        arch = PRESETS[name].arch
        entry = {
            "arch": arch.encode(),
            "ops": s.ops(arch),
            "fidelity": s.fidelity.key(),
            "top1": None,
            "diverged": False,
            "error": None,
        }
        start = beat = time.perf_counter()
        results = []
        with tqdm(
            total=s.seeds,
            unit="step",
            disable=not self.progress,
            file=sys.stderr,
            dynamic_ncols=True,
            desc=name,
            leave=False,
        ) as bar:

            def on_step(step: int, total: int, loss: float) -> None:
                nonlocal beat
                bar.total, bar.n = total * s.seeds, total * len(results) + step
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                bar.refresh()
                self.check_stop()
                now = time.perf_counter()
                if self.trial_timeout is not None and now - start > self.trial_timeout:
                    raise TimeoutError(f"trial time limit: stopped after {self.trial_timeout:g} s (--trial-timeout)")
                if now - beat > HEARTBEAT_S:  # keep the claim alive
                    beat = now
                    self.study.set_user_attr(_CLAIM + name, {"owner": owner_id(), "heartbeat": time.time()})

            try:
                for i in range(s.seeds):  # the seeds every trial of the search is trained with
                    results.append(
                        evaluate(arch, s.fidelity, self.data, s.seed + i, device=self.device, progress=on_step)
                    )
                    if results[-1].diverged:
                        break
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # as a trial's: recorded, and the comparison goes on
                text = str(exc) if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
                entry.update(error=text.splitlines()[0][:300], traceback=traceback.format_exc()[-2000:])
        entry["seconds"] = round(time.perf_counter() - start, 2)
        entry["machine"] = machine_tag(self.device)
        if entry["error"]:
            return entry
        top1s = [float(r.val_top1) for r in results]
        if results[-1].diverged or not all(math.isfinite(t) for t in top1s):
            return entry | {"diverged": True}
        entry["top1"] = float(np.mean(top1s))
        if s.seeds > 1:
            entry["top1_seeds"] = [round(t, 6) for t in top1s]
            entry["top1_sd"] = float(np.std(top1s, ddof=1))
        return entry


def run_comparison(study: optuna.Study, settings: SearchSettings, data: ProxyData, **options) -> ComparisonRun:
    """Train every comparison preset left (:class:`ComparisonRun` for the options); Ctrl-C
    (KeyboardInterrupt) keeps those already stored and re-raises."""
    return ComparisonRun(study, settings, data, **options).run()
