"""benchmarks/fidelity.py (proxies.calibration.fidelity_bench): run cache, resume, Ctrl-C, outputs, bad input."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import proxies.calibration.evaluators as evaluators
import proxies.calibration.fidelity_runs as fidelity_runs
from proxies.calibration.fidelity_bench import main
from proxies.calibration.rank_fidelity import recompute_kendall
from proxies.scoring.fidelity import Fidelity
from search_space import get_preset

REPO = Path(__file__).resolve().parents[2]
TINY = Fidelity(epochs=1, train_subset=64, val_size=50)
REF = ["bin_mobilenet_sp_w0.5_d1", "bin_mobilenet_sp_w1.0_d1", "mobinet_pre_k1_prelu", "bin_mobilenet_sp_w2.0_d1"]
PAPER = [("sp", 7, "bin_mobilenet_sp_w0.5_d1", 51.4), ("sp", 7, "bin_mobilenet_sp_w0.75_d1", 57.4),
         ("sp", 7, "bin_mobilenet_sp_w1.0_d1", 61.2), ("sp", 7, "bin_mobilenet_sp_w2.0_d1", 64.8),
         ("mobinet", 3, "pre_k0", 35.86), ("mobinet", 3, "pre_k1", 48.93), ("mobinet", 3, "pre_k2", 50.74)]
N_ARCHS = 7  # 4 reference + w0.75, pre_k0 and pre_k2 from the papers


def tiny_registry():
    return evaluators.make_evaluators({"default": TINY, "steps-1k": replace(TINY, train_subset=32),
                                       "steps-6k": replace(TINY, train_subset=96),
                                       "steps-12k": replace(TINY, train_subset=128),
                                       "ws0.5": replace(TINY, width_scale=0.5)})


@pytest.fixture
def setup(tmp_path, monkeypatch, image_folder):
    ref = tmp_path / "reference"
    ref.mkdir()
    archs = [get_preset(n).arch.encode() for n in REF]
    pd.DataFrame({"index": range(4), "name": REF, "arch": archs}).to_csv(ref / "archs.csv", index=False)
    rows = [{"arch": a, "seed": s, "test_top1": 0.2 + 0.05 * i + 0.01 * s} for i, a in enumerate(archs)
            for s in ((0, 1) if i < 2 else (0,))]
    pd.DataFrame(rows).to_csv(ref / "reference.csv", index=False)
    paper = tmp_path / "paper.csv"
    pd.DataFrame(PAPER, columns=["source", "table", "name", "top1"]).to_csv(paper, index=False)
    monkeypatch.setattr(evaluators, "EVALUATORS", tiny_registry())
    out = tmp_path / "out"
    args = ["--data-dir", str(image_folder), "--reference", str(ref), "--paper-csv", str(paper), "--out", str(out),
            "--bootstrap", "50", "--quiet"]
    return args, out, ref, archs


class FakeRunner:
    """Deterministic runs without training; ``stop_at``: raise KeyboardInterrupt on that call."""

    def __init__(self, stop_at: int | None = None):
        self.calls: list[tuple] = []
        self.stop_at = stop_at

    def __call__(self, spec, arch, data, device=None):
        if self.stop_at is not None and len(self.calls) + 1 == self.stop_at:
            raise KeyboardInterrupt
        self.calls.append(spec.key(arch))
        value = int(hashlib.sha256(repr(spec.key(arch)).encode()).hexdigest()[:8], 16) / 2**32
        train = spec.kind == "train"
        return {"kind": spec.kind, "fidelity": spec.fidelity.key(), "seed": spec.seed, "arch": arch,
                "val_top1": value if train else np.nan, "sotl_e": 100 * (1 - value) if train else np.nan,
                "score": value, "cpu_seconds": 2.0 if train else 0.01, "seconds": 1.0, "diverged": False,
                "device": "cpu", "error": ""}


def test_runs_resume_and_outputs(setup, monkeypatch, capsys):
    args, out, ref, archs = setup
    fake = FakeRunner()
    monkeypatch.setattr(fidelity_runs, "run_one", fake)
    assert main(args) == 0
    n_specs = len(evaluators.run_order(list(evaluators.EVALUATORS), evaluators.EVALUATORS))
    assert n_specs == 14 and len(fake.calls) == n_specs * N_ARCHS
    # zero-cost runs first, cheapest first; then training runs architecture by architecture, in the reference
    # set's order
    assert [c[3] for c in fake.calls[:4]] == archs and fake.calls[0][0] == "params"
    assert fake.calls[-1][0] == "train" and fake.calls[-1][2] == 2  # default-mean3's extra seeds last
    trains = [c for c in fake.calls if c[0] == "train"]
    per_arch = len(trains) // N_ARCHS
    assert [c[3] for c in trains] == [a for a in dict.fromkeys(c[3] for c in trains) for _ in range(per_arch)]
    printed = capsys.readouterr().out
    assert "| evaluator | kendall_ref |" in printed and "default:" in printed
    table = pd.read_csv(out / "fidelity.csv")
    assert list(table.columns[:8]) == ["evaluator", "kendall_ref", "spearman_ref", "pairwise_ref", "paper_spearman",
                                       "paper_pairwise", "cpu_s_per_arch", "is_default"]
    assert table["is_default"].sum() == 1 and set(table["evaluator"]) == set(evaluators.EVALUATORS)
    assert (table["n_ref"] == 4).all() and (table["paper_rows"] == 7).all()
    t = table.set_index("evaluator")
    assert t.loc["default-mean3", "cpu_s_per_arch"] == pytest.approx(6.0)
    assert t.loc["default+synflow", "cpu_s_per_arch"] == pytest.approx(2.01)
    for name, k in t["kendall_ref"].items():
        again = recompute_kendall(out / "fidelity-scores.csv", ref / "reference.csv", name)
        assert again == pytest.approx(k, abs=1e-12, nan_ok=True), name
    assert (out / "fidelity.png").stat().st_size > 0 and (out / "fidelity.svg").stat().st_size > 0
    before = {p.name: pd.read_csv(p) for p in out.glob("*.csv")}
    fake.calls.clear()
    assert main(args) == 0
    assert fake.calls == []  # resumed: nothing new
    after = {p.name: pd.read_csv(p) for p in out.glob("*.csv")}
    assert after.keys() == before.keys()
    for name, frame in after.items():  # the same tables (floats to 1e-12: a CSV round trip may move the last digit)
        pd.testing.assert_frame_equal(frame, before[name], rtol=1e-12, atol=1e-12)
    assert main([*args, "--report-only"]) == 0 and fake.calls == []


def test_ctrl_c_keeps_the_cache_and_limit(setup, monkeypatch, capsys):
    args, out, _, _ = setup
    monkeypatch.setattr(fidelity_runs, "run_one", FakeRunner(stop_at=3))
    assert main([*args, "--evaluators", "params,ops"]) == 130
    assert "the same command resumes" in capsys.readouterr().err
    assert len(pd.read_csv(out / "fidelity-runs.csv")) == 2
    fake = FakeRunner()
    monkeypatch.setattr(fidelity_runs, "run_one", fake)
    assert main([*args, "--evaluators", "params,ops", "--limit", "5"]) == 0
    assert len(fake.calls) == 5 and len(pd.read_csv(out / "fidelity-runs.csv")) == 7
    fake.calls.clear()
    assert main([*args, "--evaluators", "params", "--archs", "paper"]) == 0
    paper_archs = {get_preset(n).arch.encode() for n in ("bin_mobilenet_sp_w0.75_d1", "mobinet_pre_k0_prelu")}
    assert {c[0] for c in fake.calls} == {"train"}  # params is cached; default's runs are always measured
    assert paper_archs <= {c[3] for c in fake.calls}
    cache = pd.read_csv(out / "fidelity-runs.csv")
    assert not cache.duplicated(["kind", "fidelity", "seed", "arch"]).any()


def test_architectures_with_a_reference_result_train_first(setup, monkeypatch):
    """The runs that can be compared now come first: a reference architecture not yet trained by the
    reference runner waits until those that are, whatever its place in archs.csv."""
    args, _, ref, archs = setup
    truth = pd.read_csv(ref / "reference.csv")
    truth[truth["arch"] != archs[0]].to_csv(ref / "reference.csv", index=False)
    fake = FakeRunner()
    monkeypatch.setattr(fidelity_runs, "run_one", fake)
    assert main([*args, "--archs", "reference", "--evaluators", "default"]) == 0
    assert list(dict.fromkeys(c[3] for c in fake.calls if c[0] == "train")) == [*archs[1:], archs[0]]


def test_a_partial_evaluators_run_keeps_every_evaluator_in_the_tables(setup, monkeypatch):
    """--evaluators picks whose runs to do; the tables still cover the whole registry (a run for one
    evaluator must not shrink the committed table to that evaluator)."""
    args, out, _, _ = setup
    monkeypatch.setattr(fidelity_runs, "run_one", FakeRunner())
    assert main([*args, "--evaluators", "params"]) == 0
    table = pd.read_csv(out / "fidelity.csv")
    assert set(table["evaluator"]) == set(evaluators.EVALUATORS)
    assert table.set_index("evaluator").loc["params", "n_ref"] == 4  # measured
    assert table.set_index("evaluator").loc["synflow", "n_ref"] == 0  # no runs yet: a row without figures


@pytest.fixture
def keep_threads():
    """--threads sets torch's process-wide thread count: put it back after the test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_tiny_real_runs(setup, monkeypatch, keep_threads):
    """Real (tiny) trainings and zero-cost scores on the image_folder fixture, then a resume."""
    args, out, ref, _ = setup
    small = ["w0.25-d1:S-none-k0-2xdw-relu-pw", "w0.25-d1:L-none-k0-relu-pw"]
    pd.DataFrame({"arch": small}).to_csv(ref / "archs.csv", index=False)
    calls = []
    real = fidelity_runs.run_one
    monkeypatch.setattr(fidelity_runs, "run_one", lambda *a: calls.append(a[:2]) or real(*a))
    cmd = [*args, "--evaluators", "default,default-sotl,params,grad_norm", "--archs", "reference", "--threads", "1"]
    assert main([*cmd, "--limit", "3"]) == 0
    assert len(calls) == 3
    calls.clear()
    assert main(cmd) == 0 and len(calls) == 3  # the other 3
    runs = pd.read_csv(out / "fidelity-runs.csv")
    assert len(runs) == 6 and set(runs["arch"]) == set(small)
    train = runs[runs["kind"] == "train"]
    assert train["val_top1"].between(0, 1).all() and (train["sotl_e"] > 0).all()
    # params is read off the architecture (no network built): its CPU time may round to 0
    assert (runs["cpu_seconds"] >= 0).all() and (train["cpu_seconds"] > 0).all()
    assert runs["fidelity"].eq(TINY.key()).all()
    calls.clear()
    assert main(cmd) == 0 and calls == []
    scores = pd.read_csv(out / "fidelity-scores.csv")
    sotl = scores[scores["evaluator"] == "default-sotl"].set_index("arch")["score"]
    assert (sotl == -train.set_index("arch")["sotl_e"]).all()


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_input_is_one_line_and_touches_nothing(setup, monkeypatch, capsys, tmp_path):
    args, out, ref, _ = setup
    monkeypatch.setattr(fidelity_runs, "run_one", FakeRunner())
    assert main([*args, "--evaluators", "default,magic"]) == 2
    assert "--evaluators: unknown evaluator 'magic'" in _err(capsys)
    assert main([*args, "--reference", str(tmp_path / "nowhere")]) == 2
    assert "--reference" in _err(capsys)
    assert main([*args, "--paper-csv", str(tmp_path / "missing.csv")]) == 2
    assert "--paper-csv" in _err(capsys)
    assert main([*args, "--limit", "-1"]) == 2
    assert "--limit" in _err(capsys)
    out.mkdir()
    for name, content in (("fidelity-runs.csv", "a,b\n1,2\n"), ("fidelity.csv", "x,y\n"),
                          ("fidelity-scores.csv", "arch,score\n"), ("fidelity.png", "not a plot")):
        path = out / name
        path.write_text(content)
        assert main(args) == 2
        assert "not" in _err(capsys)
        assert path.read_text() == content
        assert not (out / "fidelity-runs.csv").exists() or name == "fidelity-runs.csv"
        path.unlink()
    assert main([*args, "--evaluators", "params"]) == 0
    capsys.readouterr()
    other = [a if a != args[1] else str(tmp_path) for a in args]
    assert main(other) == 2
    assert "--data-dir" in _err(capsys)


def test_script_exits_2_on_bad_input():
    proc = subprocess.run([sys.executable, "benchmarks/fidelity.py", "--evaluators", "magic"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--evaluators" in proc.stderr


def test_seed_noise_from_the_run_cache():
    from proxies.calibration.noise import noise_from_runs, pooled_sd

    runs = pd.DataFrame({"kind": ["train"] * 6 + ["synflow"], "fidelity": ["f"] * 4 + ["g"] * 2 + ["f"],
                         "seed": [0, 1, 0, 1, 0, 0, 0], "arch": ["a", "a", "b", "b", "a", "b", "a"],
                         "val_top1": [0.40, 0.44, 0.30, 0.31, 0.5, 0.6, float("nan")],
                         "diverged": [False] * 7})
    noise = noise_from_runs(runs)
    assert list(noise["fidelity"]) == ["f"]  # g has no architecture run twice
    assert noise["seed_sd"].iloc[0] == pytest.approx(pooled_sd([[0.40, 0.44], [0.30, 0.31]])[0])
    assert (noise["archs"].iloc[0], noise["runs"].iloc[0]) == (2, 4)


def test_seed_noise_reads_the_diverged_field_as_a_csv_gives_it(tmp_path):
    """Text 'False' and a missing field are not divergence; 'True' is (a bool cast would read both as True)."""
    from proxies.calibration.noise import noise_from_runs

    runs = pd.DataFrame({"kind": ["train"] * 5, "fidelity": ["f"] * 5, "seed": [0, 1, 0, 1, 2],
                         "arch": ["a", "a", "b", "b", "b"], "val_top1": [0.40, 0.44, 0.30, 0.31, 0.1],
                         "diverged": ["False", None, "False", "False", "True"]})
    runs.to_csv(tmp_path / "r.csv", index=False)
    noise = noise_from_runs(pd.read_csv(tmp_path / "r.csv"))
    assert (noise["archs"].iloc[0], noise["runs"].iloc[0]) == (2, 4)  # the diverged seed 2 of b is left out
