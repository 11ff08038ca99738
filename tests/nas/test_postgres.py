"""Several workers on one study through a real PostgreSQL server (started here on 127.0.0.1).

The server comes from Debian's ``postgresql`` package, which ``.ci/run`` installs; in CI a
missing server is a failure, elsewhere the test is skipped.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from nas.report import main as report_main
from nas.search import main
from search_space.cli import run_cli

HANG_S = 900  # only turns a hang into a failure; nothing waits on it otherwise


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (.ci/run installs Debian's postgresql package)")
        pytest.skip("PostgreSQL is not installed")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="binas-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use the package's postgres user
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], check=True,
                   capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE binas")
        yield f"postgresql://postgres@127.0.0.1:{port}/binas"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_on_postgresql(tmp_path, cifar_dir, postgres_url):
    out = tmp_path / "pg"
    args = ["--budget", "50M", "--data-dir", str(cifar_dir), "--fidelity", "smoke", "--train-subset", "200",
            "--val-size", "100", "--no-seed-presets",
            "--no-compare-presets", "--sampler", "random", "--no-progress", "--storage",
            postgres_url, "--out", str(out)]
    assert run_cli(main, [*args, "--trials", "4", "--workers", "2"]) == 0
    t = pd.read_csv(out / "trials.csv")
    trained = t[t["outcome"].isin(["trained", "pruned"])]
    assert len(trained) == 4 and trained["arch"].is_unique  # exactly the target; nothing trained twice
    assert not (out / "study.db").exists()  # the study lives in PostgreSQL
    # A second machine's worker would run the same command; the report is the same whoever writes it.
    before = (out / "pareto.csv").read_text()
    other = tmp_path / "other"
    other.mkdir()
    assert run_cli(report_main, [str(other), "--storage", postgres_url]) == 0
    assert (other / "pareto.csv").read_text() == before
    pd.testing.assert_frame_equal(pd.read_csv(other / "trials.csv"), t)


def _training_now(url: str) -> int:
    """Trials a worker trains now (state RUNNING, architecture drawn, no outcome yet), read from the database."""
    import psycopg

    with psycopg.connect(url) as c:
        (n,) = c.execute(
            "SELECT COUNT(*) FROM trials t WHERE t.state = 'RUNNING'"
            " AND EXISTS (SELECT 1 FROM trial_user_attributes a WHERE a.trial_id = t.trial_id AND a.key = 'arch')"
            " AND NOT EXISTS (SELECT 1 FROM trial_user_attributes a WHERE a.trial_id = t.trial_id"
            " AND a.key = 'outcome')").fetchone()
    return n


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_replaced_and_nothing_is_lost(tmp_path, cifar_dir, postgres_url):
    """Two machines' commands on one PostgreSQL study; one is SIGKILLed while it trains and its machine runs the
    same command again: the study ends at exactly --trials, the killed trial is found stale and retrained,
    nothing is trained twice, and the report is written."""
    out = tmp_path / "pgk"
    cmd = [sys.executable, "-m", "nas.search", "--budget", "50M", "--data-dir", str(cifar_dir), "--fidelity", "smoke",
           "--train-subset", "600", "--val-size", "100", "--no-seed-presets", "--no-compare-presets", "--sampler",
           "random", "--screen", "1", "--no-progress", "--storage", postgres_url, "--study-name", "killed",
           "--out", str(out), "--trials", "4"]
    with contextlib.ExitStack() as stack:  # stderr to files: no pipe can fill and block them
        logs = [stack.enter_context(open(tmp_path / f"err-{i}.txt", "w")) for i in range(3)]
        a = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logs[0])
        b = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logs[1])
        end = time.time() + HANG_S  # only turns a hang into a failure
        while _training_now(postgres_url) < 2:
            assert time.time() < end and a.poll() is None and b.poll() is None, (tmp_path / "err-1.txt").read_text()
            time.sleep(0.1)  # polling for the event (both train), not a wait for a time
        b.kill()
        b.wait()
        again = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logs[2])  # the machine runs it again
        assert a.wait(timeout=HANG_S) == 0, (tmp_path / "err-0.txt").read_text()[-2000:]
        assert again.wait(timeout=HANG_S) == 0, (tmp_path / "err-2.txt").read_text()[-2000:]
    t = pd.read_csv(out / "trials.csv")
    trained = t[t["outcome"].isin(["trained", "pruned"])]
    assert len(trained) == 4 and trained["arch"].is_unique, t[["number", "state", "outcome", "arch"]]
    stale = t[t["outcome"] == "stale"]
    assert len(stale) == 1 and stale["arch"].iloc[0] in set(trained["arch"])  # the killed trial, retrained
    assert (out / "report.md").is_file() and (out / "pareto.csv").is_file()
