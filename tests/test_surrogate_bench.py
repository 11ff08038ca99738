"""proxies.calibration.surrogate_fit (``python -m proxies.calibration.surrogate_fit``, also
benchmarks/surrogate.py): fitted on held-apart results only, measured on the reference set, its JSON and CSV,
the prior it writes, and bad input (synthetic searches, run cache and reference with a known rule)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from proxies.calibration.fidelity_runs import RUN_COLUMNS
from proxies.scoring.fidelity import FIDELITIES
from search_space import ArchConfig, SearchSpace, analytic_cost
from search_space.cli import run_cli

FID = FIDELITIES["default"].key()


@pytest.fixture
def bench():
    import proxies.calibration.surrogate_fit as module

    return module


def _rule(arch) -> float:
    """A top-1 the design choices explain: PReLU and binary 1x1 only help, OPs a little."""
    prelu = np.mean([s.activation == "prelu" for s in arch.stages])
    pw = np.mean([s.binary_scope == "pw" for s in arch.stages])
    return float(0.15 + 0.1 * prelu + 0.1 * pw + 0.02 * np.log(analytic_cost(arch).ops() / 1e7))


@pytest.fixture
def inputs(tmp_path, bench, monkeypatch):
    rng, space = np.random.default_rng(0), SearchSpace()
    archs = list(dict.fromkeys(space.sample(rng).encode() for _ in range(80)))
    truth = {a: _rule(ArchConfig.decode(a)) for a in archs}
    reference = archs[:16]  # also in the searches and the cache below: they must be left out of the fit
    search = tmp_path / "search"
    search.mkdir()
    top1 = [truth[a] + rng.normal(0, 0.005) for a in archs[:60]]
    pd.DataFrame({"arch": archs[:60], "outcome": "trained", "fidelity": FID, "top1": top1,
                  "curve": [f"{0.8 * t:.4f} {t:.4f}" for t in top1]}).to_csv(search / "trials.csv", index=False)
    rows = [{"kind": "train", "fidelity": FID, "seed": 0, "arch": a, "val_top1": truth[a] + rng.normal(0, 0.005),
             "diverged": False, "data": "d"} for a in reference[:10] + archs[60:]]
    runs = tmp_path / "runs.csv"
    pd.DataFrame(rows, columns=RUN_COLUMNS).to_csv(runs, index=False)
    ref = pd.DataFrame({"arch": reference, "seed": 0, "test_top1": [truth[a] for a in reference]})
    monkeypatch.setattr(bench, "read_reference", lambda folder: ref)
    return search, runs, reference, archs


def test_fits_only_outside_the_reference_set_and_measures_it(bench, inputs, tmp_path, monkeypatch, capsys):
    search, runs, reference, archs = inputs
    fitted = []
    real_fit = bench.RidgeSurrogate.fit

    def spy(self, a, y):
        fitted.append(list(a))
        return real_fit(self, a, y)

    monkeypatch.setattr(bench.RidgeSurrogate, "fit", spy)
    out = tmp_path / "o" / "surrogate"
    assert run_cli(bench.main, ["--searches", str(search), "--runs", str(runs), "--bootstrap", "200",
                                "--curve", "10,20", "--out", str(out)]) == 0
    assert fitted and all(not set(f) & set(reference) for f in fitted)  # no reference architecture, ever
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["n_fit"] == len(archs) - len(reference) == len(fitted[0])
    assert result["surrogate"]["n"] == len(reference) and result["surrogate"]["kendall"] > 0.6
    assert result["surrogate"]["kendall_lo"] <= result["surrogate"]["kendall"] <= result["surrogate"]["kendall_hi"]
    assert result["on_default_archs"]["default"]["n"] == 10  # the reference archs the cache scored at seed 0
    assert [c["n_fit"] for c in result["learning_curve"]] == [10, 20]
    assert [(r["target"], r["n_fit"]) for r in result["search_targets"]] == [("trained", 44), ("epoch1", 44)]
    assert all(r["useful"] and r["kendall"] > 0.5 for r in result["search_targets"])
    assert 0 <= result["learning_curve"][0]["useful_share"] <= 1
    table = pd.read_csv(out.with_suffix(".csv"))
    assert sorted(table["arch"]) == sorted(reference) and table["default_seed0"].notna().sum() == 10
    printed = capsys.readouterr().out
    assert "screening by 'surrogate': " in printed and "as it screens" in printed


def test_a_search_folder_without_trials_is_one_line_exit_2(bench, inputs, tmp_path, capsys):
    _, runs, _, _ = inputs
    assert run_cli(bench.main, ["--searches", str(tmp_path / "nowhere"), "--runs", str(runs),
                                "--out", str(tmp_path / "o" / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--searches: " in err[0] and "holds no trials.csv" in err[0]
    assert not (tmp_path / "o").exists()


def test_prior_writes_what_it_fits_with_the_data_sets_classes_and_statistics(bench, inputs, tmp_path, image_folder):
    from proxies import channel_stats, load_dataset, load_prior

    search, runs, reference, archs = inputs
    prior_path, out = tmp_path / "pkg" / "prior.json", tmp_path / "o" / "surrogate"
    assert run_cli(bench.main, ["--searches", str(search), "--runs", str(runs), "--bootstrap", "50", "--curve", "",
                                "--out", str(out), "--prior", str(prior_path), "--data-dir", str(image_folder)]) == 0
    prior, result = load_prior(prior_path), json.loads(out.with_suffix(".json").read_text())
    train = load_dataset(image_folder, "train")
    assert prior.classes == train.classes == tuple(f"class{i}" for i in range(10)) and prior.fidelity == FID
    assert (prior.mean, prior.std) == channel_stats(train.images)  # what the search's ProxyData carries
    assert sorted(prior.archs) == sorted(set(archs) - set(reference)) and prior.digest() == result["fit_digest"]
    assert prior.source == f"python -m proxies.calibration.surrogate_fit --prior {prior_path}"  # the package command


@pytest.mark.parametrize("bad", ["data", "curve", "mixed"])
def test_bad_prior_input_is_one_line_exit_2_and_writes_nothing(bench, inputs, tmp_path, capsys, bad):
    search, runs, _, _ = inputs
    data, curve = str(tmp_path / "nowhere"), "10"
    if bad != "data":
        data = str(tmp_path / "d")
        (tmp_path / "d" / "train" / "c").mkdir(parents=True)
    if bad == "curve":
        curve = "10,3"
    if bad == "mixed":  # runs from two data sets cannot make one prior
        table = pd.read_csv(runs)
        table.loc[table.index[:3], "data"] = "/elsewhere"
        table.to_csv(runs, index=False)
    prior_path = tmp_path / "prior.json"
    assert run_cli(bench.main, ["--searches", str(search), "--runs", str(runs), "--out", str(tmp_path / "o" / "s"),
                                "--curve", curve, "--prior", str(prior_path), "--data-dir", data]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    flag = {"data": "--data-dir: ", "curve": "--curve: invalid value '10,3'", "mixed": "--prior: "}[bad]
    assert len(err) == 1 and flag in err[0], err
    assert not prior_path.exists() and not (tmp_path / "o").exists()


def test_search_targets_fit_trained_top1_or_every_evaluated_trials_epoch1(bench, tmp_path):
    pd.DataFrame({"arch": ["a", "b", "b", "c", "d", "ref"],
                  "outcome": ["trained", "pruned", "trained", "screened", "pruned", "trained"],
                  "fidelity": [FID, FID, FID, FID, "other", FID],
                  "top1": [0.3, 0.1, 0.4, None, 0.2, 0.5],
                  "curve": ["0.2000 0.3000", "0.1000", "0.3000 0.4000", None, "0.2000", "0.4 0.5"],
                  }).to_csv(tmp_path / "trials.csv", index=False)
    got = bench.search_targets(tmp_path, FID, {"ref"})
    assert got["trained"].to_dict() == {"a": 0.3, "b": 0.4}  # screened, other fidelity, reference: out
    assert got["epoch1"].to_dict() == pytest.approx({"a": 0.2, "b": 0.2})  # b: mean of its two trials' epoch 1


@pytest.mark.parametrize("command", [["-m", "proxies.calibration.surrogate_fit"], ["benchmarks/surrogate.py"]])
def test_the_package_command_and_its_script_run_it(command, tmp_path):
    """``python -m proxies.calibration.surrogate_fit`` (the command that writes the shipped prior) and the
    script beside it: bad input is one line and exit code 2, and nothing is written."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, *command, "--searches", str(tmp_path / "nowhere"),
                           "--out", str(tmp_path / "o" / "s"), "--prior", str(tmp_path / "prior.json")],
                          cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --searches: ") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "prior.json").exists()
