"""python -m proxies.reference: the set, its runs (resume, claims) and the noise summary."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from proxies.calibration.reference import build_archs, claim, coverage, jobs, main, reference_truth, run_key, summarize
from proxies.calibration.run_lock import STALE_S
from search_space import PRESETS, ArchConfig, analytic_cost


@pytest.mark.slow
def test_the_default_set_is_stratified_and_holds_the_seed_presets():
    archs = build_archs(11, 11, 12, 60e6, 0)
    assert len(archs) >= 30 and archs["arch"].is_unique and (archs["seeds"] == 2).sum() == 12
    names = set(archs["name"])
    assert {"bin_mobilenet_l", "bin_mobilenet_sp", "mobinet_mid_k4_prelu", "bin_mobilenet_sp_w1.0_d2",
            "bin_mobilenet_sp_w0.7_d2", "bin_mobilenet_sp_w2.0_d1"} <= names
    assert "bin_mobilenet_ls" not in names  # a seed preset over 60M OPs
    sampled = archs[archs["origin"] != "preset"]
    assert len(sampled) >= 20
    assert all(analytic_cost(ArchConfig.decode(a)).ops() <= 60e6 for a in sampled["arch"])
    assert set(sampled["origin"]) == {"uniform", "per-stage"}
    cov = coverage(sampled)
    wanted = [f"width={w:g}" for w in (0.5, 0.7, 0.75, 1.0, 1.25, 1.5, 2.0)] + [
        "depth=1", "depth=2", "depth=3", "topology=cascade", "topology=parallel", "topology=both",
        "binary_scope=pw", "binary_scope=all", "placement=none", "placement=pre", "placement=mid",
        "placement=post", "k=low", "k=high", "activation=relu", "activation=prelu"]
    assert all(cov.get(f, 0) >= 3 for f in wanted), cov
    assert build_archs(11, 11, 12, 60e6, 0).equals(archs)  # same seed, same set


def test_jobs_run_every_first_seed_before_the_second_seeds():
    archs = pd.DataFrame({"name": ["a", "b", "c"], "arch": ["x", "y", "z"], "seeds": [2, 1, 2]})
    assert jobs(archs) == [("a", "x", 0), ("b", "y", 0), ("c", "z", 0), ("a", "x", 1), ("c", "z", 1)]


def test_a_claim_is_taken_once_and_a_dead_owner_is_stale(tmp_path):
    assert claim(tmp_path, "k1") and not claim(tmp_path, "k1")
    (tmp_path / "k2.json").write_text("{}")
    assert not claim(tmp_path, "k2")  # done
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (tmp_path / "k3.lock").write_text(f"{os.uname().nodename}:{dead}")
    assert claim(tmp_path, "k3")  # the killed owner's lock is taken over
    (tmp_path / "k4.lock").write_text("another-host:1")
    assert not claim(tmp_path, "k4")  # another machine's live claim is trusted
    old = time.time() - STALE_S - 60
    os.utime(tmp_path / "k4.lock", (old, old))
    assert claim(tmp_path, "k4")  # ... until it falls silent (that machine's session ended)


def test_summary_measures_the_seed_to_seed_agreement():
    ref = pd.DataFrame({"arch": list("abcd") * 2, "seed": [0] * 4 + [1] * 4,
                        "test_top1": [0.1, 0.2, 0.3, 0.4, 0.12, 0.22, 0.29, 0.41],
                        "val_top1": [0.1] * 8, "seconds": [1.0] * 8, "cpu_seconds": [2.0] * 8})
    archs = pd.DataFrame({"index": range(4), "name": list("ABCD"), "origin": "preset", "arch": list("abcd"),
                          "ops_m": 1.0, "seeds": 2})
    summary, noise = summarize(ref, archs)
    assert noise["seed_kendall"] == pytest.approx(1.0) and noise["two_seed_archs"] == 4
    assert noise["seed_abs_diff_max"] == pytest.approx(0.02)
    assert summary.set_index("arch").loc["a", "test_top1_mean"] == pytest.approx(0.11)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_tiny_reference_run_learns_and_resumes_without_training_again(tmp_path, image_folder, capsys):
    out = tmp_path / "ref"
    args = ["--data-dir", str(image_folder), "--out", str(out), "--epochs", "3", "--train-subset", "160",
            "--val-size", "40", "--n-uniform", "1", "--n-per-stage", "1", "--two-seeds", "1", "--threads", "1"]
    assert main([*args, "--limit", "2"]) == 0
    ref = pd.read_csv(out / "reference.csv")
    archs = pd.read_csv(out / "archs.csv")
    assert len(ref) == 2 and list(ref["arch"]) != [] and set(ref["arch"]) <= set(archs["arch"])
    assert set(ref.columns) >= {"arch", "seed", "fidelity", "val_top1", "test_top1", "seconds"}
    assert ref["machine"].str.contains("thread").all()  # where each run trained (format, threads, torch)
    assert PRESETS["bin_mobilenet_l"].arch.encode() in set(ref["arch"])  # the set's first architecture
    assert ref["test_top1"].max() > 0.25  # 10 classes: chance is 0.1
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    # resume: one more run, the finished ones untouched; the second seed of the first arch comes last
    assert main([*args, "--limit", "1"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert len(after) == 3 and all(after[k] == v for k, v in before.items())
    assert not list((out / "runs").glob("*.lock"))
    noise = json.loads((out / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert noise["runs"] == 3 and noise["runs_in_set"] == len(archs) + 1
    # another fidelity in the same folder is refused, nothing touched
    assert main([*args[:-2], "--epochs", "1", "--limit", "1"]) == 2
    assert "--out" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == after
    assert run_key("x", 1).endswith("-s1")


@pytest.mark.slow
@pytest.mark.e2e
def test_a_run_killed_mid_training_resumes_from_its_last_epoch(tmp_path, image_folder, capsys, monkeypatch):
    import proxies.scoring.run as run_mod

    args = ["--data-dir", str(image_folder), "--epochs", "3", "--train-subset", "160", "--val-size", "40",
            "--n-uniform", "1", "--n-per-stage", "1", "--two-seeds", "1", "--threads", "1", "--limit", "1"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    whole = pd.read_csv(tmp_path / "whole" / "reference.csv")
    out = tmp_path / "ref"
    real_save = run_mod._save_checkpoint

    def save_then_die(path, state, cpu_seconds):  # killed right after epoch 2's checkpoint
        real_save(path, state, cpu_seconds)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "_save_checkpoint", save_then_die)
    assert main([*args, "--out", str(out)]) == 130
    assert len(list((out / "runs").glob("*.ckpt"))) == 1 and not list((out / "runs").glob("*.json"))
    monkeypatch.setattr(run_mod, "_save_checkpoint", real_save)
    capsys.readouterr()
    assert main([*args, "--out", str(out)]) == 0
    assert "after epoch 2" in capsys.readouterr().err
    again = pd.read_csv(out / "reference.csv")
    cols = ["arch", "seed", "val_top1", "test_top1"]
    assert again[cols].equals(whole[cols])  # as if never killed
    assert not list((out / "runs").glob("*.ckpt")) and not list((out / "runs").glob(".*tmp"))


def test_a_diverged_reference_run_counts_as_worst_not_missing():
    ref = pd.DataFrame({"arch": ["a", "a", "b", "c"], "seed": [0, 1, 0, 0], "test_top1": [0.5, math.nan, 0.3, 0.2],
                        "diverged": [False, True, False, False]})
    truth = reference_truth(ref)
    assert truth.to_dict() == {"a": 0.25, "b": 0.3, "c": 0.2}
    assert reference_truth(ref.drop(columns="diverged"))["a"] == 0.5  # a table from before the column
    ref = ref.assign(val_top1=ref["test_top1"], seconds=1.0, cpu_seconds=1.0)
    archs = pd.DataFrame({"index": [0, 1, 2], "name": ["a", "b", "c"], "origin": "preset", "arch": ["a", "b", "c"],
                          "ops_m": 1.0, "seeds": [2, 1, 1]})
    summary, _ = summarize(ref, archs)
    assert summary.set_index("arch")["test_top1_mean"].to_dict() == truth.to_dict()  # the summary agrees


def test_a_damaged_set_or_another_selection_is_one_line_exit_2(tmp_path, capsys):
    from proxies.calibration.reference import (  # a set made before --selection
        REFERENCE_FIDELITY,
        REFERENCE_RECIPE,
        _meta,
    )

    out = tmp_path / "ref"
    (out / "runs").mkdir(parents=True)
    (out / "meta.json").write_text(json.dumps(_meta(REFERENCE_FIDELITY, REFERENCE_RECIPE, None)))
    assert main(["--out", str(out), "--summary"]) == 2
    assert "cannot read the reference set's" in capsys.readouterr().err
    (out / "archs.csv").write_text("index,name\n0,x\n")
    assert main(["--out", str(out), "--summary"]) == 2
    assert "lacks the column 'origin'" in capsys.readouterr().err
    build_archs(1, 1, 1, 60e6, 0).to_csv(out / "archs.csv", index=False)  # chosen with --n-uniform 1 ...
    assert main(["--out", str(out), "--summary", "--n-uniform", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--n-uniform: invalid value 3" in err[0] and "--n-uniform 1 " in err[0], err
    # ... which the set shows (its meta.json predates the stored selection): the set's own value is accepted
    assert main(["--out", str(out), "--summary", "--n-uniform", "1", "--two-seeds", "1", "--max-ops", "5e7"]) == 0
