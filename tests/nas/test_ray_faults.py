"""The Ray backend under faults: a trial worker killed mid-trial, an interrupted or killed driver.

Each test runs ``python -m nas.search --backend ray`` in a subprocess with a local Ray
instance and real (tiny) training, and kills processes from outside, as a crash would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _training_worker(root: int, descendants) -> int | None:
    """A descendant of ``root`` that is a Ray trial worker while it trains (``ray::ImplicitFunc.train``)."""
    for pid in descendants(root):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ImplicitFunc.train"):
                return pid
        except OSError:
            continue
    return None


def _wait_for_training(proc: subprocess.Popen, descendants, timeout: float = 120) -> int:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        pid = _training_worker(proc.pid, descendants)
        if pid is not None:
            return pid
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no Ray trial started training in {timeout:g} s: {proc.communicate()[1][-2000:]}")


def _command(out: Path, cifar_dir: Path, trials: int) -> list[str]:
    return [sys.executable, "-m", "nas.search", "--budget", "50M", "--data-dir", str(cifar_dir), "--out", str(out),
            "--fidelity", "smoke", "--train-subset", "1000", "--val-size", "100", "--no-seed-presets",
            "--sampler", "random", "--no-progress", "--backend", "ray", "--trials", str(trials)]


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


def _trained(out: Path) -> pd.DataFrame:
    t = pd.read_csv(out / "trials.csv")
    return t[t["outcome"].isin(["trained", "pruned"])]


def test_a_trial_worker_killed_mid_trial_is_restarted_by_ray(tmp_path, cifar_dir, descendants):
    out = tmp_path / "ray"
    proc = _start(_command(out, cifar_dir, 2))
    os.kill(_wait_for_training(proc, descendants), signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    trained = _trained(out)
    assert len(trained) == 2 and trained["arch"].is_unique
    t = pd.read_csv(out / "trials.csv")
    assert t["retries"].fillna(0).sum() == 1  # the killed trial ran again, once
    assert set(t["outcome"]) <= {"trained", "pruned", "over_budget", "duplicate"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"])
def test_an_interrupted_ray_experiment_is_resumed_by_the_same_command(tmp_path, cifar_dir, sig, descendants):
    out = tmp_path / "ray"
    cmd = _command(out, cifar_dir, 3)
    proc = _start(cmd)
    _wait_for_training(proc, descendants)
    if sig == signal.SIGKILL:  # the whole process group: driver, Ray and its workers, as a lost machine
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if sig != signal.SIGKILL:  # SIGTERM too: ray.init's own handler would exit without recording
        assert proc.returncode == 130 and "interrupted: run the same command to resume" in err, err[-2000:]
        assert "interrupted" in set(pd.read_csv(out / "trials.csv")["outcome"])
    else:
        assert proc.returncode == -signal.SIGKILL
    done_before = len(_trained(out)) if (out / "trials.csv").exists() else 0
    assert done_before < 3
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    trained = _trained(out)
    assert len(trained) == 3 and trained["arch"].is_unique  # exactly the target, nothing trained twice
    t = pd.read_csv(out / "trials.csv")
    lost = t[t["outcome"].isin(["interrupted", "stale"])]
    assert len(lost) >= 1 and set(lost["arch"]) <= set(trained["arch"])  # the cut trial was retrained
    assert t["retry_of"].notna().sum() >= 1
