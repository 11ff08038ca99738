"""proxies.calibration.run_lock: claims on runs in progress, taken one at a time under a folder lock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from proxies.calibration import run_lock


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid  # reaped: no process has it now (pids are not reused this quickly)


def test_claim_takes_a_free_run_and_makes_its_folder(tmp_path):
    lock = tmp_path / "running" / "a.lock"
    assert run_lock.claim(lock, lambda: False)
    assert lock.read_text() == f"{socket.gethostname()}:{os.getpid()}"
    assert not run_lock.claim(lock, lambda: False)  # held by a live process (this one)


def test_claim_refuses_a_done_run_and_one_finished_while_claiming(tmp_path):
    lock = tmp_path / "running" / "a.lock"
    assert not run_lock.claim(lock, lambda: True) and not lock.exists()
    answers = iter([False, True])  # not done at the first check, done at the second
    assert not run_lock.claim(lock, lambda: next(answers)) and not lock.exists()


def test_stale_locks_are_taken_over_and_live_ones_kept(tmp_path):
    lock = tmp_path / "running" / "a.lock"
    lock.parent.mkdir()
    lock.write_text(f"{socket.gethostname()}:{_dead_pid()}")
    assert run_lock.stale(lock) and run_lock.claim(lock, lambda: False)
    lock.write_text(f"another-host:{os.getpid()}")  # another machine's, recently touched: alive
    assert not run_lock.stale(lock) and not run_lock.claim(lock, lambda: False)
    os.utime(lock, (0, 0))  # silent for longer than STALE_S
    assert run_lock.stale(lock) and run_lock.claim(lock, lambda: False)


def test_holding_removes_the_lock_however_the_run_ends(tmp_path):
    lock = tmp_path / "running" / "a.lock"
    assert run_lock.claim(lock, lambda: False)
    with pytest.raises(RuntimeError), run_lock.holding(lock):
        raise RuntimeError("the run failed")
    assert not lock.exists()


def test_a_holder_whose_lock_was_taken_over_leaves_the_new_owners_lock(tmp_path):
    lock = tmp_path / "running" / "a.lock"
    assert run_lock.claim(lock, lambda: False)
    with run_lock.holding(lock):
        lock.write_text("another-host:1")  # taken over as stale while we were silent
    assert lock.read_text() == "another-host:1"  # not ours to remove
    assert not run_lock.claim(lock, lambda: False)  # and it still counts as held
    assert [p.name for p in lock.parent.iterdir()] == ["a.lock"]  # no temporary file left
