"""Crash safety: trials left RUNNING by a dead process are failed and queued again.

A worker marks each trial it runs with its owner (host and process id) and a heartbeat
it refreshes every ``HEARTBEAT_S`` seconds while the trial trains. A trial still RUNNING
whose owner is a dead process on this host, or whose heartbeat is older than
``grace_s`` (another machine), is stale: it is told FAIL with outcome ``stale`` and its
parameters are queued again, so the next worker retrains it first. Stale trials do not
count towards ``--trials``, so a search killed any number of times still ends with
exactly the requested number of finished trials.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import optuna
from optuna.trial import TrialState

__all__ = ["HEARTBEAT_S", "Heartbeat", "mark_owner", "queued_params", "recover_stale"]

HEARTBEAT_S = 20.0
HOST = socket.gethostname()


def mark_owner(trial: optuna.Trial) -> None:
    trial.set_user_attr("owner", f"{HOST}:{os.getpid()}")
    trial.set_user_attr("heartbeat", time.time())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Refreshes a trial's heartbeat from a daemon thread while the ``with`` block runs."""

    def __init__(self, trial: optuna.Trial, interval: float = HEARTBEAT_S) -> None:
        self.trial, self.interval = trial, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            # A storage hiccup must not kill training; the next beat retries.
            with contextlib.suppress(Exception):
                self.trial.set_user_attr("heartbeat", time.time())

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def queued_params(study: optuna.Study, trial_id: int, params: dict, user_attrs: dict) -> dict:
    """The parameters to queue again for a trial that did not finish: those it was queued
    with, else those it drew; empty for a fresh draw stopped before its architecture was
    complete (nothing is lost by drawing again)."""
    fixed = study._storage.get_trial_system_attrs(trial_id).get("fixed_params")
    if fixed:
        return dict(fixed)
    return dict(params) if params and "arch" in user_attrs else {}


def _stale(t: optuna.trial.FrozenTrial, now: float, grace_s: float) -> bool:
    owner = t.user_attrs.get("owner")
    if owner:
        host, _, pid = owner.rpartition(":")
        if host == HOST and pid.isdigit() and int(pid) != os.getpid():
            return not _alive(int(pid))
        if host == HOST and pid.isdigit():
            return False  # ours
    beat = t.user_attrs.get("heartbeat")
    if beat is None:
        beat = t.datetime_start.timestamp() if t.datetime_start else now
    return now - float(beat) > grace_s


def recover_stale(study: optuna.Study, grace_s: float = 6 * HEARTBEAT_S) -> int:
    """Fail and re-queue the stale RUNNING trials of ``study``; returns how many."""
    now = time.time()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _stale(t, now, grace_s):
            continue
        try:
            study._storage.set_trial_user_attr(t._trial_id, "outcome", "stale")
            study._storage.set_trial_user_attr(t._trial_id, "fail_reason", "its process died; queued again")
            study.tell(t.number, state=TrialState.FAIL)
        except Exception:  # another worker recovered it first
            continue
        params = queued_params(study, t._trial_id, t.params, t.user_attrs)
        if params:
            keep = {k: v for k, v in t.user_attrs.items() if k == "seed_preset"} | {"retry_of": t.number}
            study.enqueue_trial(params, user_attrs=keep)
        n += 1
    return n
