"""Crash safety: trials left RUNNING by a dead process are failed and queued again.

A worker marks each trial it runs with its owner (host, process id and the process's start
time, so a reused pid is told apart) and a heartbeat it refreshes every ``HEARTBEAT_S``
seconds while the trial trains. A trial still RUNNING is stale when its owner is a dead (or
reused) process on this host, or when its heartbeat is older than ``grace_s`` (another
machine, or a local process that is stopped or hung). A stale trial is told FAIL with outcome
``stale`` and its parameters are queued again, so the next worker retrains it first. Stale
trials do not count towards ``--trials``, so a search killed any number of times still ends
with exactly the requested number of finished trials.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from .. import compat
from ..outcomes import Attr, Outcome

__all__ = ["HEARTBEAT_S", "Heartbeat", "mark_owner", "owner_gone", "owner_id", "queue_again", "recover_stale"]

HEARTBEAT_S = 20.0
HOST = socket.gethostname()


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot; "" where /proc cannot tell): with
    the pid, it names one process, even after the pid is reused (a restarted container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


_ME: tuple[int, str] = (0, "")  # (pid, owner id) of this process, once asked


def owner_id() -> str:
    """``host:pid:start`` of this process (recomputed after a fork)."""
    global _ME
    pid = os.getpid()
    if _ME[0] != pid:
        _ME = (pid, f"{HOST}:{pid}:{_started(pid)}")
    return _ME[1]


def mark_owner(trial: optuna.Trial) -> None:
    trial.set_user_attr(Attr.OWNER, owner_id())
    trial.set_user_attr(Attr.HEARTBEAT, time.time())


def _alive(pid: int, started: str) -> bool:
    """Whether process ``pid`` is alive and is the one that started at ``started`` (if given)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _started(pid) if started else ""
    return not now or now == started


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
                self.trial.set_user_attr(Attr.HEARTBEAT, time.time())

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def queue_again(study: optuna.Study, trial, *, drawn: bool = True, withdrawn: bool = False) -> bool:
    """Queue again the architecture of ``trial`` (a Trial or FrozenTrial that did not finish);
    returns whether there was one: the parameters it was queued with (a seed preset, a retry),
    else, with ``drawn``, those it drew once its architecture was complete (a fresh draw
    stopped earlier has nothing to lose). The queued trial keeps ``seed_preset`` and is a
    ``retry_of`` ``trial``; a ``withdrawn`` trial was no attempt, so it passes on its own
    ``retry_of`` instead."""
    params = compat.fixed_params(study, trial)
    if not params and drawn and trial.params and "arch" in trial.user_attrs:
        params = trial.params
    if not params:
        return False
    keep = {k: v for k, v in trial.user_attrs.items() if k == "seed_preset" or (withdrawn and k == "retry_of")}
    study.enqueue_trial(dict(params), user_attrs=keep if withdrawn else keep | {"retry_of": trial.number})
    return True


def _stale(t: optuna.trial.FrozenTrial, now: float, grace_s: float) -> bool:
    """Stale: owned by a dead process of this host (or one whose pid was reused), or silent
    for ``grace_s`` (another host; or a process of this host that is stopped or hung)."""
    beat = t.user_attrs.get(Attr.HEARTBEAT)
    if beat is None:
        beat = t.datetime_start.timestamp() if t.datetime_start else now
    return owner_gone(str(t.user_attrs.get(Attr.OWNER) or ""), float(beat), now, grace_s)


def owner_gone(owner: str, beat: float, now: float, grace_s: float = 6 * HEARTBEAT_S) -> bool:
    """Whether the work ``owner`` (``host:pid:start``) claimed, last heard of at ``beat``, is
    abandoned: a dead (or reused) process of this host, or silent for ``grace_s``."""
    parts = owner.split(":")
    if len(parts) == 2:  # host:pid, from before the start time was recorded
        parts.append("")
    if len(parts) == 3 and parts[0] == HOST and parts[1].isdigit():
        if owner == owner_id():
            return False  # ours (another thread of this process)
        if not _alive(int(parts[1]), parts[2]):
            return True
    return now - beat > grace_s


def recover_stale(study: optuna.Study, grace_s: float = 6 * HEARTBEAT_S) -> int:
    """Fail and re-queue the stale RUNNING trials of ``study``; returns how many."""
    now = time.time()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _stale(t, now, grace_s):
            continue
        try:
            compat.set_frozen_user_attr(study, t, Attr.OUTCOME, Outcome.STALE)
            compat.set_frozen_user_attr(study, t, Attr.FAIL_REASON, "its process died; queued again")
            study.tell(t.number, state=TrialState.FAIL)
        except Exception:  # another worker recovered it first
            continue
        queue_again(study, t)
        n += 1
    return n
