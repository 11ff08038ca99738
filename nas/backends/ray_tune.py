"""The Ray Tune backend (``--backend ray``): the same trials, scaled out to a Ray cluster.

* Search: Ray Tune's ``OptunaSearch`` on the study's own Optuna storage (so ``nas.report``
  and a resumed run see every trial), multi-objective (top-1 max, OPs min), with the same
  budget-aware sampler as the Optuna backend. Its ``suggest`` is extended so that an
  over-budget or already-trained architecture is settled in the study without ever
  becoming a Ray trial.
* Scheduling: ASHA on the per-epoch validation top-1 (rungs every ``eta``-fold epochs).
  ASHA is single-objective, as Ray documents it; the Optuna backend's Pareto-aware rungs
  (:mod:`nas.rungs`) are the alternative when that matters.
* Execution: a local Ray instance by default, ``--ray-address`` for an existing cluster;
  ``--workers`` concurrent trials, each with an equal share of the CPUs (a GPU each when
  the cluster has them).
* Faults: a trial whose worker process dies is restarted by Ray (``FailureConfig``, up to
  ``MAX_FAILURES`` times; ``retries`` in trials.csv). Ctrl-C or SIGTERM stops the run like
  the Optuna backend: trials in flight are recorded as ``interrupted`` and queued again. If
  the driver itself dies, its trials are found stale (owner and heartbeat, as in
  :mod:`nas.stale`) by the next run. An interrupted experiment is resumed by the same
  command through the study, which holds every finished trial; Ray's own experiment state
  (``Tuner.restore``) is not used, as it would restart the in-flight trials a second time
  beside the re-queued ones.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from tqdm import tqdm

from proxies import FORMAT_ENV, machine_tag, prepare_data, set_threads, usable_cpus
from proxies.manifest import binas_version
from proxies.scoring.train import evaluate
from search_space import ArchConfig

from .. import compat
from ..objective import TrialRunner
from ..outcomes import Attr, Outcome
from ..samplers import make_sampler
from ..study import open_storage, open_study
from .loop import LoopConfig, check_stop, count_trained, graceful_stop, request_stop
from .machines import WorkerMismatch, worker_mismatch
from .stale import HEARTBEAT_S, recover_stale

__all__ = ["MAX_FAILURES", "build_searcher", "run_ray"]

MAX_FAILURES = 2
_MISMATCH: list[str] = []  # in the driver: what a worker found different from it (the search then stops)


def _trainable(config: dict, cfg: LoopConfig, threads: int) -> None:
    import ray
    from ray import tune

    problem = worker_mismatch(config["binas"], cfg.data_dir)
    if problem is not None:  # the driver stops the search with this line; the trial is queued again
        tune.report({"mismatch": problem, "top1": 0.0, "ops": float(config["ops"]), "epoch": 0, "done": True})
        return
    set_threads(threads)
    machine = machine_tag(cfg.device)
    node = ray.get_runtime_context().get_node_id()
    s = cfg.settings
    f = s.fidelity
    data = prepare_data(
        cfg.data_dir, f.train_subset, f.val_size, s.seed, image_size=f.resolution, progress=False, options=s.data
    )
    arch = ArchConfig.decode(config["arch"])
    start = time.perf_counter()
    curve: list[float] = []

    def on_epoch(epoch: int, top1: float, loss: float) -> bool:
        curve.append(round(float(top1), 6))
        tune.report(
            {
                "top1": float(top1),
                "ops": float(config["ops"]),
                "epoch": epoch,
                "val_loss": float(loss),
                "seconds": time.perf_counter() - start,
                "done": epoch == f.epochs,
                "diverged": False,
                "curve": list(curve),
                "machine": machine,
                "node": node,
            }
        )
        return False

    result = evaluate(arch, f, data, s.seed, on_epoch=on_epoch, device=cfg.device)
    if result.diverged:
        tune.report(
            {
                "top1": 0.0,
                "ops": float(config["ops"]),
                "epoch": result.epochs_done,
                "done": True,
                "diverged": True,
                "seconds": result.seconds,
                "val_loss": float("nan"),
                "machine": machine,
                "node": node,
            }
        )


def _no_space(trial) -> None:
    """OptunaSearch needs a define-by-run space; ``suggest`` below does the suggesting."""
    return None


def _searcher_class():
    from ray.tune.search.optuna import OptunaSearch

    class BudgetOptunaSearch(OptunaSearch):
        """OptunaSearch whose suggestions are always new, within-budget architectures.

        Ray pickles the searcher when it builds the Tuner. The live sampler and study are not
        part of that state (a sampler may hold a lock, a storage an engine): the searcher keeps
        the recipe for both, the sampler's factory and the storage URL, and rebuilds them when
        unpickled."""

        def __init__(
            self,
            runner: TrialRunner,
            sampler_factory: Callable[[], Any],
            storage_url: str,
            limit: int = 2000,
            **kw: Any,
        ) -> None:
            super().__init__(sampler=sampler_factory(), **kw)
            self._runner = runner
            self._limit = limit
            self._sampler_factory = sampler_factory
            self._storage_url = storage_url

        def __getstate__(self) -> dict:
            state = self.__dict__.copy()
            state.update(_sampler=None, _ot_study=None, _storage=None)
            return state

        def __setstate__(self, state: dict) -> None:
            self.__dict__.update(state)
            self._sampler = self._sampler_factory()
            if self._study_name is not None:  # the searcher had been set up: reopen its study
                self._storage = open_storage(self._storage_url)
                self._ot_study = optuna.load_study(
                    study_name=self._study_name, storage=self._storage, sampler=self._sampler
                )

        def suggest(self, trial_id: str) -> dict | None:
            study = compat.searcher_study(self)
            for _ in range(self._limit):
                check_stop()  # Ctrl-C: no new trial (a safe point: nothing asked yet)
                ot_trial = study.ask()  # owned by the driver: if the driver dies, the next run re-queues it
                arch, ops, settled = self._runner.admit(ot_trial)
                if settled is None:
                    compat.ray_trials(self)[trial_id] = ot_trial
                    return {"arch": arch.encode(), "ops": ops, "number": ot_trial.number, "binas": binas_version()}
            raise RuntimeError(f"no new within-budget architecture in {self._limit} proposals")

        def save(self, checkpoint_path: str) -> None:
            """Ray checkpoints the searcher; the study lives in the Optuna storage, so only the
            map from Ray trial ids to Optuna trial numbers is saved."""
            state = {
                "trials": {k: t.number for k, t in compat.ray_trials(self).items()},
                "completed": sorted(compat.ray_completed(self)),
            }
            Path(checkpoint_path).write_text(json.dumps(state), encoding="utf-8")

        def restore(self, checkpoint_path: str) -> None:
            state = json.loads(Path(checkpoint_path).read_text(encoding="utf-8"))
            compat.set_ray_completed(self, set(state["completed"]))

        def in_flight(self) -> list:
            done = compat.ray_completed(self)
            return [t for k, t in list(compat.ray_trials(self).items()) if k not in done]

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            trials, done = compat.ray_trials(self), compat.ray_completed(self)
            if trial_id in done or trial_id not in trials:
                return
            if result and result.get("mismatch"):
                self._runner.interrupted(trials[trial_id])  # queued again: a fitting machine trains it
                _MISMATCH.append(str(result["mismatch"]))
            else:
                _record(self._runner, trials[trial_id], result or {}, error)
            done.add(trial_id)

    return BudgetOptunaSearch


def build_searcher(cfg: LoopConfig, study: optuna.Study, runner: TrialRunner):
    """The Ray Tune search algorithm of a search: ``cfg.sampler`` on ``study``, admitting through ``runner``."""
    prior = runner.prior_points() if cfg.sampler == "guided" else None
    factory = functools.partial(
        make_sampler,
        cfg.sampler,
        cfg.settings.space,
        cfg.settings.fits,
        cfg.settings.seed,
        cfg.population,
        settings=cfg.settings,
        prior=prior,
    )
    return _searcher_class()(
        runner,
        factory,
        cfg.storage,
        space=_no_space,
        metric=["top1", "ops"],
        mode=["max", "min"],
        study_name=cfg.study_name,
        storage=compat.storage(study),
    )


def _record(runner: TrialRunner, t, result: dict, error: bool) -> None:
    """Record a finished Ray trial's last result on its Optuna trial, and its outcome."""
    for key in ("seconds", "val_loss", "curve", Attr.MACHINE, Attr.NODE):
        if key in result:
            t.set_user_attr(key, result[key])
    if "epoch" in result:
        t.set_user_attr(Attr.EPOCHS_DONE, int(result["epoch"]))
        t.set_user_attr("top1", float(result["top1"]))
    if error:
        t.set_user_attr(Attr.FAIL_REASON, "the Ray trial failed (see the Ray logs in --out/ray)")
        runner.finish(t, Outcome.ERROR, TrialState.FAIL)
    else:
        runner.finish_training(
            t,
            result.get("top1", float("nan")),
            result.get("ops", float("nan")),
            diverged=bool(result.get("diverged")),
            completed=bool(result.get("done")),
        )


class _Heartbeat(threading.Thread):
    """Refreshes the heartbeat of the driver's in-flight trials (see :mod:`nas.stale`)."""

    def __init__(self, searcher, interval: float = HEARTBEAT_S) -> None:
        super().__init__(daemon=True)
        self.searcher, self.interval, self.stop = searcher, interval, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            for t in self.searcher.in_flight():
                with contextlib.suppress(Exception):  # a storage hiccup: the next beat retries
                    t.set_user_attr(Attr.HEARTBEAT, time.time())


def run_ray(cfg: LoopConfig, target: int, workers: int, address: str | None, progress) -> None:
    """Run trials through Ray Tune until the study holds ``target`` trained trials.

    Ctrl-C or SIGTERM at any moment of the call raises KeyboardInterrupt, after the trials in
    flight are recorded as interrupted (none before Ray runs one). The signal handlers only set
    a flag (:func:`~nas.backends.loop.graceful_stop`), read at safe points: before and after
    ``ray.init``, at the start of each of Tune's steps and of each suggestion, after ``fit``.
    They are installed whatever SIGINT's inherited disposition (a script's background job
    ignores it, and Python then never raises KeyboardInterrupt: ``kill -INT`` let the whole run
    go on). Raised from a handler, KeyboardInterrupt could also land where a library drops it
    (a finalizer, a callback); left to Ray Tune, ``fit`` would return as if the run were done.
    A second signal stops at once; trials not yet recorded are then found stale by the next run."""
    with graceful_stop("stopping: the trials in flight in Ray are recorded as interrupted") as rearm:
        study, _ = open_study(cfg.storage, cfg.study_name, cfg.settings)
        recover_stale(study)
        done, _ = count_trained(study)
        if done >= target:
            return
        check_stop()
        started = _start_ray(address, rearm)
        _MISMATCH.clear()
        try:
            _fit(cfg, study, target - done, None if address else workers, progress)
        except (KeyboardInterrupt, WorkerMismatch):
            if started:
                _shutdown_ray()  # stops the local trial workers now
            raise


def _start_ray(address: str | None, rearm: Callable[[], None]) -> bool:
    """Start a local Ray instance or join ``address``, unless Ray is up; returns whether it started one.

    ``ray.init`` installs its own SIGTERM handler first thing, one that exits the driver at
    once (``sys.exit``): a SIGTERM while it runs surfaces here as that SystemExit and stops
    the run like any other. Ctrl-C only sets the flag and ``ray.init`` runs to its end."""
    import ray

    if ray.is_initialized():
        return False
    # the workers train in the memory format the driver was told (on a cluster they do not inherit its environment)
    env = {"env_vars": {FORMAT_ENV: os.environ[FORMAT_ENV]}} if FORMAT_ENV in os.environ else None
    try:
        if address:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False, runtime_env=env)
        else:
            ray.init(
                num_cpus=usable_cpus(),
                include_dashboard=False,
                logging_level="ERROR",
                log_to_driver=False,
                runtime_env=env,
            )
    except SystemExit as exc:
        if exc.code != signal.SIGTERM:
            raise
        request_stop()
    finally:
        rearm()  # SIGTERM's handler is ours again (ray.init's would exit without recording a trial)
    try:
        check_stop()
    except KeyboardInterrupt:
        _shutdown_ray()
        raise
    return True


def _shutdown_ray() -> None:
    import ray

    with contextlib.suppress(Exception):  # a half-started instance: ray.shutdown kills what it started
        ray.shutdown()


def _fit(cfg: LoopConfig, study, samples: int, workers: int | None, progress) -> None:
    """One Ray Tune experiment of ``samples`` trials on ``study``; KeyboardInterrupt (Ctrl-C,
    SIGTERM) records the trials in flight as interrupted, then propagates."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    total = float(ray.cluster_resources().get("CPU", 1))
    if workers is None:  # a cluster (--ray-address): one single-thread trial per CPU, on whichever node has one
        cpus, workers = 1.0, max(1, int(total))
    else:  # Ray on this machine: --workers trials at a time, its cores shared among them
        cpus = max(1.0, total // max(1, workers))
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    s, f = cfg.settings, cfg.settings.fidelity
    data = None  # the driver never trains: its data is the screening minibatch's and the prior check's source
    if s.screen.active or cfg.sampler == "guided":
        data = prepare_data(
            cfg.data_dir, f.train_subset, f.val_size, s.seed, image_size=f.resolution, progress=False, options=s.data
        )
    # admits (screens, with the search seed as the loop backend does), records and tells; never trains
    runner = TrialRunner(study, s, data, cfg.device, train_seed=s.seed)
    searcher = build_searcher(cfg, study, runner)
    scheduler = ASHAScheduler(
        metric="top1", mode="max", time_attr="epoch", max_t=f.epochs, grace_period=1, reduction_factor=cfg.eta
    )

    class _Callback(tune.Callback):
        def on_step_begin(self, iteration, trials, **info):  # the safe point where Ctrl-C leaves fit()
            if _MISMATCH:  # leaves fit() as Ctrl-C does; _fit then raises the worker's line
                request_stop()
            check_stop()

        def on_trial_start(self, iteration, trials, trial, **info):
            tqdm.write(
                f"trial {trial.config.get('number')} started in Ray: {trial.config.get('arch')}", file=sys.stderr
            )
            sys.stderr.flush()

        def on_trial_recover(self, iteration, trials, trial, **info):  # its worker died; Ray restarts it
            ot_trial = compat.ray_trials(searcher).get(trial.trial_id)
            if ot_trial is not None:
                ot_trial.set_user_attr(Attr.RETRIES, int(trial.num_failures))

        def on_trial_complete(self, iteration, trials, trial, **info):
            progress.refresh()

    trainable = tune.with_resources(
        tune.with_parameters(_trainable, cfg=cfg, threads=int(cpus)), {"cpu": cpus, "gpu": gpus}
    )
    out = Path(cfg.storage[len("sqlite:///") :]).parent if cfg.storage.startswith("sqlite:///") else Path.cwd()
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=samples,
            max_concurrent_trials=workers,
            time_budget_s=None if cfg.deadline is None else max(1, cfg.deadline - time.time()),
        ),
        run_config=tune.RunConfig(
            name=cfg.study_name,
            storage_path=str((out / "ray").resolve()),
            verbose=0,
            callbacks=[_Callback()],
            failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
        ),
    )
    # Ray Tune's own Ctrl-C handler would end fit() as if the run had finished; keep ours.
    previous = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    beat = _Heartbeat(searcher)
    beat.start()
    try:
        check_stop()
        tuner.fit()
        check_stop()  # a signal during Tune's last step: the run is cut all the same
    except KeyboardInterrupt:
        for t in searcher.in_flight():
            with contextlib.suppress(Exception):  # already told by Ray in the same instant
                runner.interrupted(t)
        if _MISMATCH:
            raise WorkerMismatch(_MISMATCH[0]) from None
        raise
    finally:
        beat.stop.set()
        if previous is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous
