"""The Ray backend under faults: a trial worker killed mid-trial, an interrupted or killed driver.

Each test runs ``python -m nas.search --backend ray`` in a subprocess with a local Ray
instance and real (tiny) training, and kills processes from outside, as a crash would.
Nothing here waits for a time: each step waits for an event (a line on the search's stderr,
a process appearing, the command's exit), so a slow or loaded machine only makes it slower.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]

# Only turns a hang into a failure that shows the command's stderr: no step waits on it to
# pass. The slowest machine seen ran one of these commands in about 2 minutes.
HANG_S = 1800

# What the Ray driver prints when Ray starts a trial: from then on the trial is in flight.
TRIAL_STARTED = re.compile(r"^trial (\d+) started in Ray: ")


class _Search:
    """``python -m nas.search`` in its own session; its stderr is read line by line as it comes."""

    def __init__(self, cmd: list[str], *, sigint_ignored: bool = False) -> None:
        # sigint_ignored: as a script's background job (`cmd &`) starts, SIGINT ignored.
        before = signal.signal(signal.SIGINT, signal.SIG_IGN) if sigint_ignored else None
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            if before is not None:
                signal.signal(signal.SIGINT, before)
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.hung = False
        self._guard = threading.Timer(HANG_S, self._hung)
        self._guard.daemon = True
        self._guard.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)  # end of stderr: the command exited

    def _hung(self) -> None:
        self.hung = True
        self.kill_group(signal.SIGKILL)

    def kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)  # the driver, Ray and its workers

    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern) -> re.Match:
        """The first stderr line matching ``pattern``; fails if the command exits without one."""
        while (line := self._new.get()) is not None:
            if match := pattern.search(line):
                return match
        self.finish()
        raise AssertionError(f"exited ({self.proc.returncode}) without a line matching {pattern.pattern!r}"
                             f"{' (hung: killed)' if self.hung else ''}:\n{self.stderr()[-3000:]}")

    def finish(self) -> int:
        rc = self.proc.wait()
        self._reader.join()
        self._guard.cancel()
        assert not self.hung, f"hung, killed after {HANG_S} s:\n{self.stderr()[-3000:]}"
        return rc


def _training_worker(root: int, descendants) -> int | None:
    """A descendant of ``root`` that is a Ray trial worker while it trains (``ray::ImplicitFunc.train``)."""
    for pid in descendants(root):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ImplicitFunc.train"):
                return pid
        except OSError:
            continue
    return None


def _wait_for_training(search: _Search, descendants) -> int:
    """The pid of the started trial's worker once it trains; fails if the search ends first."""
    search.wait_for(TRIAL_STARTED)
    while search.proc.poll() is None:
        pid = _training_worker(search.proc.pid, descendants)
        if pid is not None:
            return pid
        time.sleep(0.05)  # polling for the event (the worker's title), not a wait for a time
    rc = search.finish()
    raise AssertionError(f"the search exited ({rc}) before a Ray trial trained:\n{search.stderr()[-3000:]}")


def _command(out: Path, cifar_dir: Path, trials: int, train_subset: int = 200) -> list[str]:
    return [sys.executable, "-m", "nas.search", "--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(out),
            "--fidelity", "smoke", "--train-subset", str(train_subset), "--val-size", "100", "--no-seed-presets",
            "--no-compare-presets",
            "--sampler", "random", "--no-progress", "--backend", "ray", "--trials", str(trials)]


def _run(cmd: list[str]) -> tuple[int, str]:
    search = _Search(cmd)
    return search.finish(), search.stderr()


def _trained(out: Path) -> pd.DataFrame:
    t = pd.read_csv(out / "trials.csv")
    return t[t["outcome"].isin(["trained", "pruned"])]


def test_a_trial_worker_killed_mid_trial_is_restarted_by_ray(tmp_path, cifar_dir, descendants):
    out = tmp_path / "ray"
    search = _Search(_command(out, cifar_dir, 2, train_subset=1000))  # trains a while: killed while it does
    os.kill(_wait_for_training(search, descendants), signal.SIGKILL)
    assert search.finish() == 0, search.stderr()[-2000:]
    trained = _trained(out)
    assert len(trained) == 2 and trained["arch"].is_unique
    t = pd.read_csv(out / "trials.csv")
    assert t["retries"].fillna(0).sum() == 1  # the killed trial ran again, once
    assert set(t["outcome"]) <= {"trained", "pruned", "screened", "over_budget", "duplicate"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"])
def test_an_interrupted_ray_experiment_is_resumed_by_the_same_command(tmp_path, cifar_dir, sig):
    out = tmp_path / "ray"
    cmd = _command(out, cifar_dir, 3)
    search = _Search(cmd)
    search.wait_for(TRIAL_STARTED)  # a trial is in flight: the signal must cut it
    if sig == signal.SIGKILL:  # the whole process group: driver, Ray and its workers, as a lost machine
        search.kill_group(signal.SIGKILL)
    else:
        search.proc.send_signal(sig)
    rc = search.finish()
    err = search.stderr()
    if sig != signal.SIGKILL:  # SIGTERM too: ray.init's own handler would exit without recording
        assert rc == 130 and "interrupted: run the same command to resume" in err, err[-2000:]
        assert "interrupted" in set(pd.read_csv(out / "trials.csv")["outcome"])
    else:
        assert rc == -signal.SIGKILL
    done_before = len(_trained(out)) if (out / "trials.csv").exists() else 0
    assert done_before < 3
    rc, err = _run(cmd)
    assert rc == 0, err[-2000:]
    trained = _trained(out)
    assert len(trained) == 3 and trained["arch"].is_unique  # exactly the target, nothing trained twice
    t = pd.read_csv(out / "trials.csv")
    lost = t[t["outcome"].isin(["interrupted", "stale"])]
    assert len(lost) >= 1 and set(lost["arch"]) <= set(trained["arch"])  # the cut trial was retrained
    assert t["retry_of"].notna().sum() >= 1


def test_ctrl_c_stops_a_ray_search_started_in_the_background(tmp_path, cifar_dir):
    """A script's background job (``cmd &``) starts with SIGINT ignored, and Python then never
    raises KeyboardInterrupt: the search ran every trial to the end and exited 0."""
    out = tmp_path / "ray"
    search = _Search(_command(out, cifar_dir, 2), sigint_ignored=True)
    search.wait_for(TRIAL_STARTED)
    search.proc.send_signal(signal.SIGINT)
    rc = search.finish()
    assert rc == 130 and "interrupted: run the same command to resume" in search.stderr(), search.stderr()[-2000:]
    t = pd.read_csv(out / "trials.csv")
    assert "interrupted" in set(t["outcome"]) and len(_trained(out)) < 2

# A Ray cluster of two nodes on this machine (``ray.cluster_utils.Cluster``, as Ray's own tests do), with the
# command README.md gives for a cluster (``--backend ray --ray-address HEAD``; a trial per CPU): it trains on
# both nodes, and when the worker node dies while it trains a trial, Ray retries the trial on the node left.


def _finished_on(db: Path, node_id: str) -> bool:
    """Whether a trial has finished training on the Ray node ``node_id`` (the study, read read-only)."""
    if not db.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        try:
            rows = con.execute("SELECT value_json FROM trial_user_attributes WHERE key = 'node'").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # its tables are not made yet
        return False
    return any(json.loads(v) == node_id for (v,) in rows)


def _trial_on(node, descendants) -> int | None:
    """A trial worker of ``node`` (a ``ray._private.node.Node``) while it trains, else None."""
    for _, proc in node.live_processes():
        if (pid := _training_worker(proc.pid, descendants)) is not None:
            return pid
    return None


@pytest.mark.e2e
def test_two_nodes_train_and_a_node_lost_mid_trial_loses_nothing(tmp_path, cifar_dir, descendants, monkeypatch):
    monkeypatch.setenv("BINAS_CPU_FORMAT", "nchw")  # the nodes' workers train in the format the driver is told
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        worker = cluster.add_node(num_cpus=1)
        nodes = {cluster.head_node.node_id, worker.node_id}
        out = tmp_path / "run"
        cmd = _command(out, cifar_dir, trials=6, train_subset=1000) + [
            "--screen", "1", "--ray-address", cluster.address]
        search = _Search(cmd)
        search.wait_for(TRIAL_STARTED)
        while not _finished_on(out / "study.db", worker.node_id):  # the worker node has trained a trial ...
            assert search.proc.poll() is None, search.stderr()[-3000:]
            time.sleep(0.1)  # polling for the event
        while (pid := _trial_on(worker, descendants)) is None:  # ... and trains another now
            assert search.proc.poll() is None, search.stderr()[-3000:]
            time.sleep(0.05)  # polling for the event
        cluster.remove_node(worker, allow_graceful=False)  # its raylet and the trial it trains, at once
        assert search.finish() == 0, search.stderr()[-3000:]
    finally:
        cluster.shutdown()
    t = pd.read_csv(out / "trials.csv")
    trained = t[t["outcome"].isin(["trained", "pruned"])]
    assert len(trained) == 6 and trained["arch"].is_unique, t[["number", "outcome", "arch"]]
    assert not t["outcome"].isin(["error", "stale"]).any()
    assert set(trained["node"]) == nodes  # trials ran on both nodes
    assert (trained["retries"].fillna(0) >= 1).sum() == 1  # the one it trained when its node died, retried
    assert pid > 0
