"""``--workers N`` under signals sent to the parent process alone (as ``kill PID`` does): the
workers stop too, record their trials as interrupted, and the same command completes the run."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from nas.backends.loop import ORPHAN_GRACE_S
from nas.study import default_storage, load_study

pytestmark = pytest.mark.slow

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _command(out: Path, cifar_dir: Path) -> list[str]:
    return [sys.executable, "-m", "nas.search", "--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(out),
            "--fidelity", "smoke", "--train-subset", "600", "--val-size", "100", "--no-seed-presets",
            "--no-compare-presets",
            "--sampler", "random", "--no-progress", "--workers", "2", "--trials", "3",
            "--screen", "1"]  # every proposal trains: a screened trial is never interrupted in training


def _training(out: Path) -> int:
    """Trials a worker is training now (claimed, architecture drawn, no outcome yet), read from the
    database read-only: opening it with Optuna would create its tables beside the search's own."""
    db = out / "study.db"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        try:
            (n,) = con.execute(
                "SELECT COUNT(*) FROM trials t WHERE t.state = 'RUNNING'"
                " AND EXISTS (SELECT 1 FROM trial_user_attributes a WHERE a.trial_id = t.trial_id AND a.key = 'arch')"
                " AND NOT EXISTS (SELECT 1 FROM trial_user_attributes a WHERE a.trial_id = t.trial_id"
                " AND a.key = 'outcome')").fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:  # its tables are not made yet
        return 0
    return n


# The time limits below only turn a hang into a failure; nothing waits on them otherwise.
GUARD_S = 900


def _wait_until_both_train(proc: subprocess.Popen, out: Path, err: Path, timeout: float = GUARD_S) -> None:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if _training(out) >= 2:
            time.sleep(0.5)  # inside training, past data loading
            return
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise AssertionError(f"two trials never trained at once: {err.read_text()[-2000:]}")


def _where(pid: int) -> str:
    """What a live process is doing, for a failure message."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        wchan = Path(f"/proc/{pid}/wchan").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")[:200]
    except OSError as e:
        return f"{pid}: {e}"
    return f"{pid}: state {state}, wchan {wchan or '-'}, {cmd}"


def _wait_gone(pids: list[int], timeout: float = GUARD_S) -> list[int]:
    end = time.time() + timeout
    while time.time() < end:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and
                 Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
        if not alive:
            return []
        time.sleep(0.2)
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_signal_to_the_parent_stops_the_workers_and_the_run_completes(sig, tmp_path, cifar_dir, descendants):
    out = tmp_path / "run"
    cmd = _command(out, cifar_dir)
    # Files, not pipes: nothing the processes print can fill a pipe nobody reads and block them.
    err_file = tmp_path / "stderr.txt"
    with open(tmp_path / "stdout.txt", "w") as o, open(err_file, "w") as e:
        proc = subprocess.Popen(cmd, stdout=o, stderr=e, text=True)
    _wait_until_both_train(proc, out, err_file)
    workers = descendants(proc.pid)
    assert workers
    proc.send_signal(sig)
    proc.wait(timeout=GUARD_S)
    alive = _wait_gone(workers, ORPHAN_GRACE_S + 180)  # they exit once they have recorded their trials
    err = err_file.read_text()
    assert alive == [], ("orphaned processes live on:\n" + "\n".join(map(_where, alive)) + "\n" + err[-3000:])
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and "interrupted: run the same command to resume" in err, err[-2000:]
    else:
        assert proc.returncode == -signal.SIGKILL
    study = load_study(default_storage(out))
    assert not study.get_trials(states=(TrialState.RUNNING,)), err[-3000:]  # each worker recorded its trial
    interrupted = [t for t in study.trials if t.user_attrs.get("outcome") == "interrupted"]
    # Both were training when the signal was sent; on a fast machine one may have finished
    # its trial in that instant (and stopped before taking another).
    assert 1 <= len(interrupted) <= 2, [(t.number, t.state.name, t.user_attrs.get("outcome")) for t in study.trials]
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert sorted(w.user_attrs["retry_of"] for w in waiting) == [i.number for i in interrupted]  # queued again
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=GUARD_S)
    assert again.returncode == 0, again.stderr[-2000:]
    t = pd.read_csv(out / "trials.csv")
    trained = t[t["outcome"].isin(["trained", "pruned"])]
    assert len(trained) == 3 and trained["arch"].is_unique
    assert {i.user_attrs["arch"] for i in interrupted} <= set(trained["arch"])  # retrained first


ORPHAN = """
import os, sys, time
import nas.backends.loop as loop
loop.ORPHAN_POLL_S, loop.ORPHAN_GRACE_S = 0.05, {grace}
loop._die_with_parent(os.getppid() + 10**7)  # a parent that is not ours: as if ours had died
while True:  # a worker between safe points
    if {safe_points}:
        try:
            loop.check_stop()
        except KeyboardInterrupt:
            print("stopped at a safe point", flush=True)
            sys.exit(0)
    time.sleep(0.05)
"""


@pytest.mark.parametrize("safe_points", [True, False], ids=["stops", "stuck"])
def test_an_orphaned_worker_stops_without_the_death_signal(safe_points):
    """The parent-pid watch alone (no PR_SET_PDEATHSIG signal) stops a worker whose parent is gone:
    at its next safe point, or, stuck where none comes, by exiting after the grace time."""
    # stopping at a safe point is never raced by the grace time; the stuck one waits it out
    grace = 120.0 if safe_points else 1.0
    r = subprocess.run([sys.executable, "-c", ORPHAN.format(grace=grace, safe_points=safe_points)],
                       capture_output=True, text=True, timeout=GUARD_S)
    if safe_points:
        assert (r.returncode, r.stdout) == (0, "stopped at a safe point\n"), r.stderr
    else:
        assert r.returncode == 1 and "parent gone and no safe point reached" in r.stderr, r.stderr


STORM = """
import os, signal, threading, time
import nas.backends.loop as loop
signal.signal(signal.SIGTERM, loop._stop_soon)
done = False
def storm():  # signals that arrive while the main thread is setting or clearing the flag
    while not done:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.0005)
threading.Thread(target=storm, daemon=True).start()
end = time.monotonic() + 3
while time.monotonic() < end:
    loop._STOP.set()
    loop._STOP.clear()
done = True
print("survived", flush=True)
"""


def test_a_stop_signal_inside_the_stop_flag_neither_deadlocks_nor_recurses():
    """The handler sets the flag without a lock: with threading.Event, a SIGTERM that came while
    the main thread held the Event's lock (in set or clear, or in a handler) blocked forever, and
    with it the orphan watch, which also sets the flag (a worker outlived its SIGKILLed parent)."""
    r = subprocess.run([sys.executable, "-c", STORM], capture_output=True, text=True, timeout=GUARD_S)
    assert (r.returncode, r.stdout) == (0, "survived\n"), r.stderr[-2000:]
