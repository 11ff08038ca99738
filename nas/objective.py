"""One trial of the search: suggest, check the budget, skip duplicates, train with rungs, record.

Outcomes (``user_attrs["outcome"]``, a column of trials.csv):

* ``trained``: trained at the full fidelity; COMPLETE with values (proxy top-1, OPs);
* ``pruned``: stopped at a rung (see :mod:`nas.rungs`); PRUNED, partial top-1 kept;
* ``over_budget``: rejected by the analytic OPs before anything was built; PRUNED, and
  marked infeasible (``set_constraint``) so samplers learn from it;
* ``screened``: a fresh proposal that a near-free score ranked below the others
  (:mod:`nas.screening`); PRUNED, no values, nothing trained;
* ``duplicate``: the same canonical architecture at the same fidelity was already trained;
  COMPLETE with that trial's values, nothing retrained;
* ``diverged``: NaN / infinite loss; FAIL; ``error``: an exception in training; FAIL;
* ``interrupted``: Ctrl-C during training; FAIL, and the architecture is queued again so the
  same command retrains it first when it resumes;
* ``stale``: its process died (SIGKILL, power loss); FAIL, queued again (:mod:`nas.stale`);
* ``withdrawn``: with several workers, another worker took the last slot of ``--trials`` in
  the same instant (:func:`nas.loop.claim_slot`), or another worker is training the same
  architecture right now (``duplicate_of`` names its trial); FAIL, nothing trained.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from proxies import PRIOR_FILE, ProxyData, RidgeSurrogate, load_prior, machine_tag, proxy_arch, zero_cost_score
from proxies.priors.surrogate import MIN_FIT
from proxies.scoring.train import evaluate
from search_space import ArchConfig, build_model

from . import compat
from .adapter import suggest_arch
from .backends.stale import Heartbeat, mark_owner, queue_again
from .outcomes import EVALUATED, Attr, Outcome
from .rungs import RungPolicy
from .screening import SURROGATE, keeps
from .settings import SearchSettings

__all__ = ["TrialRunner", "same_arch"]


class TrialTimeout(Exception):
    """A trial ran past ``--trial-timeout``; recorded as an error, the search goes on."""


def same_arch(study: optuna.Study, arch: str, fidelity: str, number: int):
    """One snapshot of the other trials that drew ``arch`` at ``fidelity``: (a finished trial
    that trained it, or None; the unfinished ones still training it or about to)."""
    done, flying = None, []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)):
        a = t.user_attrs
        if t.number == number or a.get(Attr.ARCH) != arch or a.get(Attr.FIDELITY) != fidelity:
            continue
        if t.state == TrialState.RUNNING:
            if a.get(Attr.OUTCOME) in (None, *EVALUATED):  # an outcome set, its state not yet
                flying.append(t)
        elif done is None and a.get(Attr.OUTCOME) in EVALUATED:
            done = t
    return done, flying


def _recent_screened(study: optuna.Study, score: str, exclude: int, window: int) -> list:
    """The last ``window`` proposals screened by ``score`` before trial ``exclude`` (kept or not)."""
    scored = [
        t
        for t in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
        )
        if t.number < exclude and t.user_attrs.get(Attr.SCREEN_BY) == score
    ]
    return sorted(scored, key=lambda t: t.number)[-window:]


def screen_points(study: optuna.Study, score: str, exclude: int, window: int) -> list[tuple[float, float]]:
    """(screening score, OPs) of the last ``window`` proposals scored by ``score`` before trial
    ``exclude`` (screened out or trained); a score that was not finite counts as -inf."""
    return [
        (
            -math.inf if t.user_attrs.get(Attr.SCREEN_SCORE) is None else float(t.user_attrs[Attr.SCREEN_SCORE]),
            float(t.user_attrs[Attr.OPS]),
        )
        for t in _recent_screened(study, score, exclude, window)
    ]


def screen_archs(study: optuna.Study, score: str, exclude: int, window: int) -> list[tuple[str, float]]:
    """(architecture, OPs) of the same proposals: the surrogate predicts them again with each new fit."""
    return [
        (t.user_attrs[Attr.ARCH], float(t.user_attrs[Attr.OPS]))
        for t in _recent_screened(study, score, exclude, window)
    ]


def trained_points(study: optuna.Study, fidelity: str) -> tuple[list[str], list[float]]:
    """The architectures trained to full ``fidelity`` in the study and their top-1 (the surrogate's data)."""
    top1: dict[str, float] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        a = t.user_attrs
        if a.get(Attr.OUTCOME) == Outcome.TRAINED and a.get(Attr.FIDELITY) == fidelity and t.values:
            top1.setdefault(a[Attr.ARCH], float(t.values[0]))
    return list(top1), list(top1.values())


def rung_peers(study: optuna.Study, epoch: int, exclude: int) -> list[tuple[float, float]]:
    """(top-1 at ``epoch``, OPs) of every other trial that reached ``epoch``."""
    peers = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        curve = t.user_attrs.get(Attr.CURVE) or []
        if t.number != exclude and t.user_attrs.get(Attr.OUTCOME) in EVALUATED and len(curve) >= epoch:
            peers.append((float(curve[epoch - 1]), float(t.user_attrs[Attr.OPS])))
    return peers


@dataclass
class TrialRunner:
    """Runs trials of ``study`` with the proxy; shared by every backend and worker."""

    study: optuna.Study
    settings: SearchSettings
    data: ProxyData
    device: str | None = None
    rungs: RungPolicy = RungPolicy()
    train_seed: int = 0
    on_step: Callable[[int, int, float], None] | None = None
    trial_timeout: float | None = None  # seconds of training before a trial is stopped as an error
    on_start: Callable[[int, str], None] | None = None
    _batch: tuple | None = field(default=None, init=False, repr=False)  # the screening minibatch
    _baseline: list | None = field(default=None, init=False, repr=False)  # screening's random draws, scored
    _draws: list | None = field(default=None, init=False, repr=False)  # (arch, OPs) of those draws
    _prior: dict | None = field(default=None, init=False, repr=False)  # the surrogate's prior, where it applies

    def record_candidate(self, trial: optuna.Trial, arch: ArchConfig) -> float:
        """Store the architecture and its analytic cost on the trial; returns its OPs."""
        cost = self.settings.cost(arch)
        ops = cost.ops(with_bn=self.settings.convention == "with-bn")
        for key, value in {
            "arch": arch.encode(),
            "fidelity": self.settings.fidelity.key(),
            "ops": ops,
            "fp_macs": cost.fp_macs,
            "binary_macs": cost.binary_macs,
            "params": cost.params,
            "size_bytes": cost.size_bytes,
        }.items():
            trial.set_user_attr(key, value)
        trial.set_constraint("ops_over_budget", ops - self.settings.budget)
        return ops

    def run(self, trial: optuna.Trial) -> str:
        """Run ``trial`` (from ``study.ask()``) to its end; tells the study; returns the outcome."""
        arch, ops, settled = self.admit(trial)
        if settled is not None:
            return settled
        if self.on_start:
            self.on_start(trial.number, arch.encode())
        return self._train(trial, arch, ops)

    def admit(self, trial: optuna.Trial) -> tuple[ArchConfig, float, str | None]:
        """The first step of every trial, in every backend: own it, draw its architecture, record
        its cost, and settle it at once if it is over budget, trained already or in flight
        elsewhere. Returns ``(arch, ops, outcome)``; ``outcome`` is None when it is to be trained."""
        mark_owner(trial)
        arch = suggest_arch(trial, self.settings.space)
        ops = self.record_candidate(trial, arch)
        if ops > self.settings.budget:
            return arch, ops, self.finish(trial, Outcome.OVER_BUDGET, TrialState.PRUNED)
        if self.settings.screen.active and not compat.fixed_params(self.study, trial):
            done, _ = same_arch(self.study, arch.encode(), self.settings.fidelity.key(), trial.number)
            if done is None:  # a duplicate costs nothing: not screened
                with Heartbeat(trial):  # scoring a young study's random draws may take a while
                    kept = self.screen(trial, arch, ops)
                if not kept:
                    return arch, ops, self.finish(trial, Outcome.SCREENED, TrialState.PRUNED)
        return arch, ops, self.settle_if_taken(trial, arch)

    def screen(self, trial: optuna.Trial, arch: ArchConfig, ops: float) -> bool:
        """Score a fresh proposal with the screening score and decide whether it is trained
        (:mod:`nas.screening`); the score, its place and its CPU time are recorded on the trial."""
        policy = self.settings.screen
        start = time.process_time()
        try:
            if policy.score == SURROGATE:
                scored = self.surrogate_points(trial, arch)
                if scored is None:  # no fit that passes its permutation test yet: trained
                    trial.set_user_attr(Attr.SCREEN_BY, policy.score)
                    trial.set_user_attr(Attr.SCREEN_PLACE, "warm-up")
                    return True
                score, previous = scored
            else:
                previous = screen_points(self.study, policy.score, trial.number, policy.window)
                if len(previous) < policy.window:  # a young study: random draws fill the window (not timed)
                    previous = self.baseline_points()[: policy.window - len(previous)] + previous
                    start = time.process_time()
                score = self.screen_score(arch)
        except Exception as exc:  # a score that fails screens nothing out
            trial.set_user_attr(Attr.SCREEN_ERROR, f"{type(exc).__name__}: {exc}"[:300])
            return True
        kept, place = keeps((score, ops), previous, policy.keep_one_in)
        for key, value in (
            (Attr.SCREEN_SCORE, score if math.isfinite(score) else None),
            (Attr.SCREEN_BY, policy.score),
            (Attr.SCREEN_PLACE, f"{place + 1}/{len(previous) + 1}"),
            (Attr.SCREEN_SECONDS, round(time.process_time() - start, 4)),
        ):
            trial.set_user_attr(key, value)
        return kept

    def surrogate_points(self, trial: optuna.Trial, arch: ArchConfig) -> tuple[float, list[tuple[float, float]]] | None:
        """(predicted top-1 of ``arch``, (predicted top-1, OPs) of the proposals it is ranked against)
        from a surrogate fitted on the study's trained architectures and :meth:`prior_points` (the
        study's result replaces the prior's for an architecture both hold); None while there are fewer
        than :data:`proxies.priors.surrogate.MIN_FIT` or the fit is not
        :attr:`~proxies.priors.surrogate.RidgeSurrogate.useful`."""
        archs, top1 = trained_points(self.study, self.settings.fidelity.key())
        points = {**self.prior_points(), **dict(zip(archs, top1, strict=True))}
        trial.set_user_attr(Attr.SCREEN_PRIOR, len(points) - len(archs))  # the prior's, besides the study's
        if len(points) < MIN_FIT:
            return None
        model = RidgeSurrogate().fit(list(points), list(points.values()))
        if not model.useful:
            return None
        window = self.settings.screen.window
        recent = screen_archs(self.study, SURROGATE, trial.number, window)
        if len(recent) < window:
            recent = self.baseline_draws()[: window - len(recent)] + recent  # predict takes both forms
        predicted = model.predict([a for a, _ in recent] + [arch])
        return float(predicted[-1]), [(float(p), o) for p, (_, o) in zip(predicted[:-1], recent, strict=True)]

    def prior_points(self) -> dict[str, float]:
        """The shipped prior's top-1 per architecture (:mod:`proxies.priors.surrogate_prior`) when the policy
        asks for it and it applies to this search (its fidelity, its data's class names and channel
        statistics); else empty (and why, printed once)."""
        if self._prior is None:
            self._prior, why = {}, ""
            try:
                policy = self.settings.screen
                path = Path(policy.prior_file) if policy.prior_file else PRIOR_FILE
                prior = (load_prior(path) if policy.prior_file else load_prior()) if policy.prior else None
            except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged file: the search goes on without
                prior, why = None, f"{path} could not be read ({type(exc).__name__}: {exc})"
            if prior is not None and self.data is not None:  # no data: a test's fake proxy
                d = self.data
                why = prior.mismatch(self.settings.fidelity.key(), d.classes, d.mean, d.std)
                if not why:
                    self._prior = dict(zip(prior.archs, prior.top1, strict=True))
            if why:
                print(f"surrogate prior not used: {why}"[:300], file=sys.stderr)
        return self._prior

    def baseline_draws(self) -> list[tuple[ArchConfig, float]]:
        """(architecture, OPs) of the ``window`` architectures drawn at random within the budget (fixed
        by the search seed) that fill a young study's screening window."""
        if self._draws is None:
            policy, space = self.settings.screen, self.settings.space
            rng = np.random.default_rng([self.settings.seed, 0x5C2EE7])
            draws: list[tuple[ArchConfig, float]] = []
            for _ in range(100_000):
                if len(draws) == 4 * policy.window:  # spares for draws a zero-cost proxy cannot score
                    break
                arch = space.sample(rng)
                ops = self.settings.ops(arch)
                if ops <= self.settings.budget:
                    draws.append((arch, ops))
            self._draws = draws
        return self._draws

    def baseline_points(self) -> list[tuple[float, float]]:
        """(score, OPs) of ``window`` of :meth:`baseline_draws` (scored once per process): the
        proposals a young study's first candidates are compared with, so that about one in K trains
        from the first proposal on."""
        if self._baseline is None:
            points: list[tuple[float, float]] = []
            for arch, ops in self.baseline_draws():
                if len(points) == self.settings.screen.window:
                    break
                with contextlib.suppress(Exception):  # a draw the proxy cannot score is left out
                    points.append((self.screen_score(arch), ops))
            self._baseline = points
        return self._baseline

    def screen_score(self, arch: ArchConfig) -> float:
        """The screening proxy's score of ``arch`` as the proxy trains it (width scale, resolution),
        on one fixed minibatch of the training split."""
        if self._batch is None:
            self._batch = next(
                iter(
                    self.data.train_loader(
                        min(64, len(self.data.train_y)), self.train_seed, augment=False, drop_last=False
                    )
                )
            )
        torch.manual_seed(self.train_seed)
        f = self.settings.fidelity
        model = build_model(proxy_arch(arch, f), self.data.num_classes, f.resolution)
        return float(zero_cost_score(self.settings.screen.score, model, *self._batch))

    def settle_if_taken(self, trial: optuna.Trial, arch: ArchConfig) -> str | None:
        """Settle ``trial`` if its architecture (already recorded on it) is trained or being
        trained: ``duplicate`` of a finished trial, or ``withdrawn`` beside one in flight.
        Returns that outcome, or None after marking the trial as the one that trains it.

        Every trial records its architecture before it looks, so of two workers that draw the
        same architecture at once the later to look sees the other and withdraws: never both
        train. Both may withdraw; then each queues its queued parameters (a seed preset, a
        retry) again unless the other is already marked as training, so nothing is lost."""
        done, flying = same_arch(self.study, arch.encode(), self.settings.fidelity.key(), trial.number)
        if done is not None:
            trial.set_user_attr(Attr.DUPLICATE_OF, done.number)
            for key in ("top1", "epochs_done", "curve"):
                if key in done.user_attrs:
                    trial.set_user_attr(key, done.user_attrs[key])
            if done.state == TrialState.COMPLETE:
                return self.finish(trial, Outcome.DUPLICATE, TrialState.COMPLETE, list(done.values))
            return self.finish(trial, Outcome.DUPLICATE, TrialState.PRUNED)
        if not flying:
            trial.set_user_attr(Attr.TRAINING, True)
            return None
        busy = min(flying, key=lambda t: (not t.user_attrs.get(Attr.TRAINING), t.number))
        trial.set_user_attr(Attr.DUPLICATE_OF, busy.number)
        trial.set_user_attr(Attr.FAIL_REASON, f"trial {busy.number} is training the same architecture")
        self.finish(trial, Outcome.WITHDRAWN, TrialState.FAIL)
        if not busy.user_attrs.get(Attr.TRAINING):  # it may be withdrawing too
            queue_again(self.study, trial, drawn=False)
        return Outcome.WITHDRAWN

    def _train(self, trial: optuna.Trial, arch: ArchConfig, ops: float) -> str:
        is_seed = "seed_preset" in trial.user_attrs
        rung_epochs = set(self.rungs.rungs(self.settings.fidelity.epochs))
        curve: list[float] = []

        def on_epoch(epoch: int, top1: float, loss: float) -> bool:
            curve.append(round(float(top1), 6))
            trial.set_user_attr(Attr.CURVE, list(curve))
            if is_seed or epoch not in rung_epochs:
                return False
            return not self.rungs.keep(top1, ops, rung_peers(self.study, epoch, trial.number))

        start = time.perf_counter()

        def on_step(step: int, total: int, loss: float) -> None:
            if self.on_step is not None:
                self.on_step(step, total, loss)
            if self.trial_timeout is not None and time.perf_counter() - start > self.trial_timeout:
                raise TrialTimeout(f"trial time limit: stopped after {self.trial_timeout:g} s (--trial-timeout)")

        trial.set_user_attr(Attr.MACHINE, machine_tag(self.device))
        try:
            with Heartbeat(trial):
                results = self._train_seeds(trial, arch, on_epoch, on_step)
        except KeyboardInterrupt:
            trial.set_user_attr(Attr.SECONDS, time.perf_counter() - start)
            self.interrupted(trial)
            raise
        except Exception as exc:  # a trial's failure must not end the search
            trial.set_user_attr(Attr.SECONDS, time.perf_counter() - start)
            text = str(exc) if isinstance(exc, TrialTimeout) else f"{type(exc).__name__}: {exc}"
            reason = text.splitlines()[0][:300]
            trial.set_user_attr(Attr.FAIL_REASON, reason)
            trial.set_user_attr(Attr.TRACEBACK, traceback.format_exc()[-2000:])
            return self.finish(trial, Outcome.ERROR, TrialState.FAIL)
        last = results[-1]
        top1 = float(np.mean([r.val_top1 for r in results]))
        trial.set_user_attr(Attr.SECONDS, sum(r.seconds for r in results))
        trial.set_user_attr(Attr.IMAGES_PER_S, last.images_per_s)
        trial.set_user_attr(Attr.EPOCHS_DONE, last.epochs_done)
        trial.set_user_attr("top1", top1)
        trial.set_user_attr(Attr.VAL_LOSS, float(np.mean([r.val_loss for r in results])))
        if self.settings.seeds > 1:
            seeds = [round(float(r.val_top1), 6) for r in results]
            trial.set_user_attr(Attr.TOP1_SEEDS, seeds)
            if len(seeds) > 1:
                trial.set_user_attr(Attr.TOP1_SD, float(np.std(seeds, ddof=1)))
        return self.finish_training(
            trial, top1, ops, diverged=last.diverged, completed=not last.pruned and len(results) == self.settings.seeds
        )

    def _train_seeds(self, trial: optuna.Trial, arch: ArchConfig, on_epoch, on_step) -> list:
        """Train ``arch`` with each of ``--seeds`` seeds (``train_seed``, +1, ...); the rungs judge
        the first seed's curve (the one every trial shares). Stops at a seed that diverged or
        was stopped at a rung: that trial is not ranked on a mean."""
        results = []
        for i in range(self.settings.seeds):
            result = evaluate(
                arch,
                self.settings.fidelity,
                self.data,
                self.train_seed + i,
                on_epoch=on_epoch if i == 0 else None,
                device=self.device,
                progress=on_step,
            )
            results.append(result)
            if result.diverged or result.pruned:
                break
        return results

    def finish_training(self, trial: optuna.Trial, top1: float, ops: float, *, diverged: bool, completed: bool) -> str:
        """The last step of a trial that trained: diverged, stopped at a rung, or trained."""
        if diverged:
            trial.set_user_attr(Attr.FAIL_REASON, "diverged: NaN or infinite training loss")
            return self.finish(trial, Outcome.DIVERGED, TrialState.FAIL)
        if not completed:
            return self.finish(trial, Outcome.PRUNED, TrialState.PRUNED)
        return self.finish(trial, Outcome.TRAINED, TrialState.COMPLETE, [float(top1), float(ops)])

    def interrupted(self, trial: optuna.Trial) -> None:
        """Record ``trial`` as interrupted (Ctrl-C, SIGTERM) and queue its architecture again
        (a fresh draw interrupted before it drew anything has nothing to queue)."""
        self.finish(trial, Outcome.INTERRUPTED, TrialState.FAIL)
        queue_again(self.study, trial)

    def finish(self, trial: optuna.Trial, outcome: str, state: TrialState, values: list[float] | None = None) -> str:
        """Record ``outcome`` on ``trial`` and tell the study; returns the outcome."""
        trial.set_user_attr(Attr.OUTCOME, outcome)
        self.study.tell(trial, values, state=state)
        return outcome
