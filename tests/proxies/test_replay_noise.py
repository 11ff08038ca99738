"""proxies.calibration.noise.compare_noise: replay noise next to seed noise, on data with known answers; and
proxies.calibration.replay_noise (benchmarks/replay_noise.py), which measures it across CPU thread counts."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from proxies.calibration import replay_noise
from proxies.calibration.fidelity_runs import RUN_COLUMNS
from proxies.calibration.noise import compare_noise, pooled_sd
from proxies.scoring.fidelity import FIDELITIES

DEFAULT = FIDELITIES["default"].key()


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
def test_replay_benchmark_bad_input(args, message, tmp_path, capsys):
    assert replay_noise.main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def _runs(rows: list[tuple]) -> pd.DataFrame:
    """A run cache of default-fidelity trainings: (arch, seed, val_top1, cpu_seconds) per row."""
    return pd.DataFrame([{"kind": "train", "fidelity": DEFAULT, "seed": s, "arch": a, "val_top1": v, "sotl_e": 1.0,
                          "score": v, "cpu_seconds": c, "seconds": c, "diverged": False} for a, s, v, c in rows],
                        columns=RUN_COLUMNS)


def test_replay_benchmark_report_only_from_the_caches(tmp_path, capsys):
    """The cheapest architectures with 3 seeds, their top-1 per thread count next to the cached seed 0, and
    the pooled replay and seed SDs (no training: --report-only)."""
    cached = _runs([("a", s, 0.30 + 0.01 * s, 10.0) for s in range(3)]
                   + [("b", s, 0.40 + 0.02 * s, 20.0) for s in range(3)]
                   + [("c", s, 0.50, 5.0) for s in range(2)]  # two seeds: not picked
                   + [("d", s, 0.20 + 0.01 * s, 90.0) for s in range(3)])  # the dearest: left out by --archs 2
    runs, out = tmp_path / "runs.csv", tmp_path / "o"
    cached.to_csv(runs, index=False)
    assert replay_noise.pick_archs(cached, 2) == ["a", "b"]
    out.mkdir()
    _runs([("a", 0, 0.30, 1.0), ("b", 0, 0.40, 1.0)]).to_csv(out / "runs-threads1.csv", index=False)
    _runs([("a", 0, 0.32, 1.0), ("b", 0, 0.38, 1.0)]).to_csv(out / "runs-threads2.csv", index=False)
    assert replay_noise.main(["--runs", str(runs), "--archs", "2", "--out", str(out), "--report-only"]) == 0
    table = pd.read_csv(out / "replay-noise.csv")
    assert list(table["arch"]) == ["a", "b"] and list(table["cached_seed0"]) == [0.30, 0.40]
    assert table["diff"].to_numpy() == pytest.approx([0.02, -0.02]) and list(table["seeds"]) == [3, 3]
    result = json.loads((out / "replay-noise.json").read_text())
    assert result["threads"] == [1, 2] and result["archs"] == 2 and result["fidelity"] == DEFAULT
    assert result["repeats_cache_exactly"] == "2 of 2"  # the thread-count-1 runs repeat the cached seed 0
    assert result["replay_sd"] == pytest.approx(0.02 / math.sqrt(2))
    assert result["seed_sd"] == pytest.approx(pooled_sd([[0.30, 0.31, 0.32], [0.40, 0.42, 0.44]])[0])
    printed = capsys.readouterr().out
    assert "top1_threads1" in printed and '"sd_ratio"' in printed


def test_the_replay_script_runs_the_module(tmp_path):
    """benchmarks/replay_noise.py is the module's command: bad input, one line and exit code 2."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "benchmarks/replay_noise.py", "--threads", "2", "--out",
                           str(tmp_path / "o")], cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --threads") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()
