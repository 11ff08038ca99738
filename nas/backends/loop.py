"""The Optuna backend: an ask-and-tell loop over :class:`TrialRunner`, in one or several processes.

``--trials N`` asks this run for N more trained architectures. The target (trained trials
already in the study + N) is stored with the study, so a run that was interrupted or
killed is completed, not restarted, by the same command: it resumes towards the same
target and the number of finished trials comes out exactly as requested.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from proxies import ProxyData, prepare_data, set_threads, usable_cpus

from .. import compat
from ..objective import TrialRunner
from ..outcomes import COUNTED, WASTED, Attr, Outcome
from ..rungs import RungPolicy
from ..samplers import make_sampler
from ..settings import SearchSettings
from ..study import open_study
from .stale import mark_owner, queue_again, recover_stale

__all__ = [
    "LoopConfig",
    "check_stop",
    "claim_slot",
    "count_trained",
    "graceful_stop",
    "request_stop",
    "run_worker",
    "run_workers",
    "set_target",
    "stored_target",
]

MAX_WASTED = 2000  # consecutive draws that trained nothing (over budget, duplicate, screened) before giving up
WAIT_S = 1.0  # pause while the last slots are held by trials still running elsewhere
WAIT_NOTICE_S = 30.0  # a wait this long is said on stderr
_TARGET = "binas:target"


@dataclass(frozen=True)
class LoopConfig:
    storage: str
    study_name: str
    settings: SearchSettings
    data_dir: str | None
    sampler: str = "nsga2"
    population: int = 10
    eta: int = 3
    device: str | None = None
    deadline: float | None = None  # time.time() after which no trial starts
    threads: int | None = None
    trial_timeout: float | None = None
    worker: int = 0  # index among --workers: each draws from its own sampler seed


def count_trained(study: optuna.Study) -> tuple[int, int]:
    """(finished trials that spent training time, trials a live worker has claimed and not finished)."""
    done = running = 0
    for t in study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    ):
        # The outcome is set just before the state changes, so it decides on its own.
        outcome = t.user_attrs.get(Attr.OUTCOME)
        if outcome in COUNTED:
            done += 1
        elif outcome is None and t.state == TrialState.RUNNING:
            running += "owner" in t.user_attrs
    return done, running


def claim_slot(study: optuna.Study, trial: optuna.Trial, target: int) -> bool:
    """Claim one of the slots left below ``target`` for ``trial`` (just asked); False: withdrawn.

    Workers that asked in the same instant could together overshoot the target. Each marks
    its trial as claimed first, then counts: the later of two such counts sees both claims,
    so at most ``target`` trials proceed. A worker that finds the slots taken withdraws its
    trial (outcome ``withdrawn``, parameters queued again if they were queued) and looks again
    after a short random pause; when both withdraw, both try again.
    """
    mark_owner(trial)
    done, running = count_trained(study)
    if done + running <= target:
        return True
    trial.set_user_attr(Attr.OUTCOME, Outcome.WITHDRAWN)
    trial.set_user_attr(Attr.FAIL_REASON, "another worker took the last slot of --trials")
    study.tell(trial, state=TrialState.FAIL)
    queue_again(study, trial, drawn=False, withdrawn=True)
    time.sleep(random.uniform(0.05, 0.5))
    return False


def stored_target(study: optuna.Study) -> int | None:
    """The number of trained trials the last run set out to reach (None: no run set one)."""
    target = study.user_attrs.get(_TARGET)
    return target if isinstance(target, int) else None


def set_target(study: optuna.Study, trials: int) -> tuple[int, int, bool]:
    """Store the number of trained trials this run must reach; returns (done, target, resumed)."""
    done, _ = count_trained(study)
    target = study.user_attrs.get(_TARGET)
    if isinstance(target, int) and done < target:
        return done, target, True
    study.set_user_attr(_TARGET, done + trials)
    return done, done + trials, False


def run_worker(cfg: LoopConfig, target: int, runner_hooks: dict | None = None, data: ProxyData | None = None) -> None:
    """Ask, run and tell trials until the study holds ``target`` trained trials (or the deadline).

    ``data``: the proxy data already loaded in this process (else loaded here)."""
    if cfg.threads:
        set_threads(cfg.threads)
    study, _ = open_study(cfg.storage, cfg.study_name, cfg.settings)
    study.sampler = make_sampler(
        cfg.sampler,
        cfg.settings.space,
        cfg.settings.fits,
        (cfg.settings.seed + cfg.worker) % 2**32,
        cfg.population,
        settings=cfg.settings,
    )
    f = cfg.settings.fidelity
    if data is None:
        data = prepare_data(
            cfg.data_dir,
            f.train_subset,
            f.val_size,
            cfg.settings.seed,
            image_size=f.resolution,
            progress=False,
            options=cfg.settings.data,
        )
    hooks = dict(runner_hooks or {})
    user_step = hooks.pop("on_step", None)

    def on_step(*a) -> None:  # every training step is a safe point to stop at
        check_stop()
        if user_step is not None:
            user_step(*a)

    runner = TrialRunner(
        study,
        cfg.settings,
        data,
        cfg.device,
        RungPolicy(eta=cfg.eta),
        cfg.settings.seed,
        trial_timeout=cfg.trial_timeout,
        on_step=on_step,
        **hooks,
    )
    if hasattr(study.sampler, "use_prior"):  # the guided sampler fits the shipped prior where it applies
        study.sampler.use_prior(runner.prior_points())
    wasted = 0
    waiting_since = None
    while True:
        check_stop()
        recover_stale(study)
        done, running = count_trained(study)
        if done >= target or (cfg.deadline is not None and time.time() >= cfg.deadline):
            return
        if done + running >= target:  # the last slots are taken; one may yet end without counting
            waiting_since = waiting_since or time.time()
            if time.time() - waiting_since > WAIT_NOTICE_S:
                print(
                    f"waiting: the last {target - done} trial(s) of the target are running in other"
                    " processes (stale ones are taken over after 2 min of silence)",
                    file=sys.stderr,
                    flush=True,
                )
                waiting_since = float("inf")  # said once
            _pause(WAIT_S)
            continue
        waiting_since = None
        outcome = _run_one(study, runner, target)
        wasted = wasted + 1 if outcome in WASTED else 0
        if wasted >= MAX_WASTED:
            raise ValueError(
                f"the sampler proposed {MAX_WASTED} architectures in a row that were over the budget, already"
                " trained, being trained or screened out; the space under this budget may be exhausted"
            )


def _run_one(study: optuna.Study, runner: TrialRunner, target: int) -> str:
    """Ask for a trial, claim a slot for it and run it. Interrupted at any point (Ctrl-C in
    the main process), a trial not yet told is recorded as interrupted and queued again."""
    trial = None
    try:
        trial = study.ask()
        if not claim_slot(study, trial, target):
            return Outcome.WITHDRAWN
        return runner.run(trial)
    except UpdateFinishedTrialError:  # stopped or hung too long: another worker found it stale
        print(
            f"trial {trial.number}: found stale by another worker while it ran (queued again there)",
            file=sys.stderr,
            flush=True,
        )
        return Outcome.STALE
    except KeyboardInterrupt:
        if trial is not None and compat.trial_state(study, trial) == TrialState.RUNNING:
            runner.interrupted(trial)
        raise


class _Flag:
    """A stop flag that signal handlers may set: no lock (``threading.Event`` takes one). A handler
    runs in the main thread between any two bytecodes, including inside ``Event.set`` or ``clear``
    that the main thread or another handler is running; taking the Event's lock there deadlocked an
    orphaned worker, and with it the orphan watch thread that waited on the same lock. Reads and
    writes of one attribute are atomic under the GIL."""

    __slots__ = ("_on",)

    def __init__(self) -> None:
        self._on = False

    def set(self) -> None:
        self._on = True

    def clear(self) -> None:
        self._on = False

    def is_set(self) -> bool:
        return self._on


_STOP = _Flag()  # set by Ctrl-C or SIGTERM (graceful_stop in the main process, _stop_soon in a worker)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def graceful_stop(notice: str = "stopping after the current training step") -> Iterator[Callable[[], None]]:
    """Ctrl-C and SIGTERM in this (main) process stop the run at its next safe point
    (:func:`check_stop`); a second one stops at once (the trial is then recorded by the next
    run, as stale). The handlers only set a flag, so a signal neither cuts a storage write in
    half nor is lost where a library drops exceptions (a finalizer, a callback); one that came
    after the last safe point raises KeyboardInterrupt on leaving the block.

    They are installed whatever the inherited disposition: a command started in the
    background by a script (``cmd &``, where the shell makes it ignore SIGINT) stops on
    ``kill -INT`` like one in a terminal. Yields a function that installs them again, for
    after a library replaced one (``ray.init`` does SIGTERM's). Outside the main thread
    nothing is installed."""

    def first(signum, frame):
        if _STOP.is_set():
            raise KeyboardInterrupt
        _STOP.set()
        with contextlib.suppress(Exception):  # the main thread may be inside a write to stderr (reentrant)
            print(f"{notice} (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    def install() -> None:
        for sig in _SIGNALS:
            signal.signal(sig, first)

    _STOP.clear()
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    install()
    try:
        yield install
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        stopped = _STOP.is_set()
        _STOP.clear()
    if stopped:  # a signal after the last safe point (the handlers above take the next ones)
        raise KeyboardInterrupt


def request_stop() -> None:
    """Stop at the next safe point, as a first Ctrl-C does (a signal another handler took)."""
    _STOP.set()


def _stop_soon(signum, frame) -> None:
    """Ctrl-C or SIGTERM in a worker: stop at the next safe point (a training step, the top
    of the loop), so that no storage write is cut in half. Ctrl-C reaches the parent and
    every worker, and the parent then sends SIGTERM too: the second signal changes nothing."""
    _STOP.set()


def check_stop(*_) -> None:
    """A safe point: raise KeyboardInterrupt if Ctrl-C or SIGTERM asked the run to stop."""
    if _STOP.is_set():
        raise KeyboardInterrupt


def _pause(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check_stop()
        time.sleep(0.1)
    check_stop()


ORPHAN_POLL_S = 1.0  # how often a worker checks that its parent lives
ORPHAN_GRACE_S = 120.0  # an orphaned worker not stopped by then exits at once (its trial is then found stale)


def _die_with_parent(parent: int) -> None:
    """Stop when the parent dies (e.g. SIGKILL), instead of running on orphaned.

    Linux delivers SIGTERM then (PR_SET_PDEATHSIG); a daemon thread also polls the parent's pid,
    where that signal is missing or lost (another OS, a sandbox), and asks for the same graceful
    stop. A worker still alive ``ORPHAN_GRACE_S`` later, stuck where no safe point comes, exits
    at once: its trial, left running, is taken over as stale by the next run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_POLL_S)
        _STOP.set()
        time.sleep(ORPHAN_GRACE_S)
        print(
            f"worker {os.getpid()}: parent gone and no safe point reached in {ORPHAN_GRACE_S:.0f} s: exiting"
            " (its trial is taken over as stale by the next run)",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)

    threading.Thread(target=watch, name="binas-orphan-watch", daemon=True).start()


def _worker_main(cfg: LoopConfig, target: int, errors, parent: int) -> None:
    signal.signal(signal.SIGINT, _stop_soon)
    signal.signal(signal.SIGTERM, _stop_soon)
    try:
        _die_with_parent(parent)
        run_worker(cfg, target)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # report to the parent, which prints one line
        errors.put(f"{type(exc).__name__}: {exc}".splitlines()[0])
    # Every trial is recorded and the error line handed over: exit now, without the interpreter's
    # shutdown (joining library threads, atexit hooks), which can hang in an orphaned worker.
    errors.close()
    errors.join_thread()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def run_workers(cfg: LoopConfig, target: int, workers: int, poll, interval: float = 2.0) -> list[str]:
    """``workers`` processes on one study; ``poll()`` is called every ``interval`` seconds.

    Each process gets an equal share of the CPU threads. Returns the workers' error lines.
    """
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    cores = usable_cpus()
    shares = [LoopConfig(**{**cfg.__dict__, "threads": max(1, cores // workers), "worker": i}) for i in range(workers)]
    procs = [
        ctx.Process(target=_worker_main, args=(share, target, errors, os.getpid()), daemon=False) for share in shares
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            poll()
            for p in procs:
                p.join(timeout=interval / len(procs))
    except KeyboardInterrupt:
        for p in procs:  # SIGTERM to the parent alone reaches no worker: pass it on
            if p.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(timeout=30)
        raise
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    out = []
    while not errors.empty():
        out.append(errors.get())
    return out
