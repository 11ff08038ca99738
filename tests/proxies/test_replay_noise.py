"""proxies.calibration.noise.compare_noise: replay noise next to seed noise, on data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from proxies.calibration.noise import compare_noise, pooled_sd


def test_known_sds_and_equal_variances():
    pairs = [[0.30, 0.32], [0.40, 0.38], [0.20, 0.22], [0.50, 0.48]]  # every difference 0.02
    groups = [[0.30, 0.32], [0.40, 0.38, 0.40], [0.10, 0.12]]
    out = compare_noise(pairs, groups)
    assert out["replay_sd"] == pytest.approx(0.02 / math.sqrt(2)) and out["replay_df"] == 4
    seed_sd, archs, runs = pooled_sd(groups)
    assert out["seed_sd"] == pytest.approx(seed_sd) and out["seed_df"] == runs - archs == 4
    lo, hi = out["replay_sd_ci95"]
    assert lo < out["replay_sd"] < hi
    assert out["mean_diff"] == pytest.approx(0.0) and out["max_abs_diff"] == pytest.approx(0.02)
    same = compare_noise(pairs, [[a, b] for a, b in pairs])  # the same spread on both sides
    assert same["sd_ratio"] == pytest.approx(1.0) and same["f_test_p"] == pytest.approx(1.0)


def test_f_test_tells_a_larger_replay_noise_apart():
    rng = np.random.default_rng(0)
    groups = [list(0.3 + 0.01 * rng.standard_normal(3)) for _ in range(30)]
    alike = [list(0.3 + 0.01 * rng.standard_normal(2)) for _ in range(30)]
    wider = [list(0.3 + 0.04 * rng.standard_normal(2)) for _ in range(30)]
    assert compare_noise(alike, groups)["f_test_p"] > 0.05
    out = compare_noise(wider, groups)
    assert out["f_test_p"] < 1e-6 and out["sd_ratio"] > 2.5


def test_nothing_to_pool():
    assert compare_noise([], [[0.1, 0.2]]) is None
    assert compare_noise([[0.1, float("nan")]], [[0.1, 0.2]]) is None  # a diverged run is no pair
    assert compare_noise([[0.1, 0.2]], [[0.1]]) is None


@pytest.mark.parametrize("args, message", [(["--threads", "2"], "--threads"), (["--threads", "1,1"], "--threads"),
                                           (["--archs", "1"], "--archs"), (["--runs", "nowhere.csv"], "--runs")])
def test_replay_benchmark_bad_input(args, message, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "benchmarks/replay_noise.py", *args, "--out", str(tmp_path / "o")],
                          cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {message}") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()
