"""Parallel workers on one SQLite study, and a small local Ray Tune run (real, tiny training)."""

from __future__ import annotations

import pandas as pd
import pytest

from nas.report.outputs import OUTPUT_FILES
from nas.search import main
from search_space.cli import run_cli

TINY = ["--fidelity", "smoke", "--train-subset", "200", "--val-size", "100", "--no-progress", "--no-seed-presets",
        "--no-compare-presets", "--budget", "50M"]


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path, cifar_dir):
    out = tmp_path / "w"
    assert run_cli(main, [*TINY, "--data-dir", str(cifar_dir), "--out", str(out), "--trials", "4", "--workers", "2",
                          "--sampler", "random"]) == 0
    t = pd.read_csv(out / "trials.csv")
    trained = t[t["outcome"].isin(["trained", "pruned"])]
    assert len(trained) == 4 and trained["arch"].is_unique  # exactly the target (nas.backends.loop.claim_slot)
    assert (trained["ops"] <= 50e6).all()


@pytest.mark.slow
@pytest.mark.ray
def test_ray_backend_small_local_run(tmp_path, cifar_dir, monkeypatch):
    monkeypatch.setenv("BINAS_CPU_FORMAT", "nchw")  # the Ray workers train in the format the driver is told
    out = tmp_path / "ray"
    assert run_cli(main, [*TINY, "--data-dir", str(cifar_dir), "--out", str(out), "--trials", "2",
                          "--backend", "ray"]) == 0
    t = pd.read_csv(out / "trials.csv")
    trained = t[t["outcome"] == "trained"]
    assert len(trained) == 2 and trained["arch"].is_unique and (trained["ops"] <= 50e6).all()
    assert trained["top1"].between(0, 1).all() and (trained["epochs_done"] == 1).all()
    assert trained["machine"].str.contains("thread").all() and not trained["machine"].str.contains("NHWC").any()
    for name in OUTPUT_FILES:
        assert (out / name).is_file()
    # The same command resumes the same study through Ray, nothing retrained.
    assert run_cli(main, [*TINY, "--data-dir", str(cifar_dir), "--out", str(out), "--trials", "1",
                          "--backend", "ray"]) == 0
    t2 = pd.read_csv(out / "trials.csv")
    trained2 = t2[t2["outcome"] == "trained"]
    assert len(trained2) == 3 and trained2["arch"].is_unique
