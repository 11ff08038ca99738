"""Report data, plot data and the files written from a stored study (data, not pixels)."""

from __future__ import annotations

import json

import optuna
import pandas as pd
import pytest

from nas import TrialRunner, arch_params, enqueue_seed_presets, open_study, pareto_plot_data, report_data, write_outputs
from nas.report import main as report_main
from nas.report.choices import KEY_CHOICES
from nas.report.outputs import OUTPUT_FILES
from nas.study import default_storage
from search_space import PRESETS, ArchConfig, SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def finished(tmp_path, settings, fake_evaluate):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    enqueue_seed_presets(study, settings)
    runner = TrialRunner(study, settings, data=None)
    for name in ("mobinet_none_k0_relu", "bin_mobilenet_sp_w0.5_d1", "bin_mobilenet_ls", "bin_mobilenet_sp"):
        study.enqueue_trial(arch_params(PRESETS[name].arch, settings.space))
    while study.get_trials(states=(optuna.trial.TrialState.WAITING,)):
        runner.run(study.ask())
    return study


def _dominates(a, b):
    return a["top1"] >= b["top1"] and a["ops"] <= b["ops"] and (a["top1"] > b["top1"] or a["ops"] < b["ops"])


def test_report_data(finished, settings):
    d = report_data(finished)
    trials, front = d["trials"], d["front"]
    assert d["counts"] == {"trained": 7, "over_budget": 1, "duplicate": 1}
    assert trials["arch"].map(lambda a: ArchConfig.decode(a).encode() == a).all()
    assert {"width", "s0.topology", "s4.binary_scope"} <= set(trials.columns)
    trained = trials[trials["outcome"] == "trained"]
    # The front: within budget, nobody dominates a member, every non-member is dominated.
    assert (front["ops"] <= settings.budget).all() and front["arch"].is_unique
    rows = trained.drop_duplicates("arch").to_dict("records")
    members = set(front["arch"])
    for r in rows:
        dominated = any(_dominates(o, r) for o in rows)
        assert (r["arch"] in members) == (not dominated)
    assert d["best"]["top1"] == trained["top1"].max()
    seeds = {s["preset"]: s for s in d["seeds"]}
    assert not seeds["bin_mobilenet_ls"]["evaluated"]  # over budget
    sp = seeds["bin_mobilenet_sp"]
    assert sp["evaluated"] and sp["dominated"] == (sp["arch"] not in members)
    space = SearchSpace()
    assert sp["nearest_distance"] == min(space.distance(PRESETS["bin_mobilenet_sp"].arch, ArchConfig.decode(a))
                                         for a in front["arch"])
    assert sum(d["choice_frequency"]["depth"].values()) == len(front)
    # Key choices: every one, placed against this front (the Sp preset was trained: its choice is on it).
    kc = {r["choice"]: r for r in d["key_choices"]}
    assert set(kc) == {c.label for c in KEY_CHOICES}
    assert all(r["near_arch"] in members and r["trained"] == trained["arch"].nunique() for r in kc.values())
    assert kc["parallel DW/PW, binary 1x1 only"]["trained_share"] > 0
    assert all(0 <= r["random_share"] <= 1 for r in kc.values())


def test_plot_data(finished, settings):
    d = report_data(finished)
    p = pareto_plot_data(d["trials"], d["front"], settings.budget)
    assert p.budget == 50.0
    assert p.front == sorted(p.front) and len(p.front) == len(d["front"])
    assert {name for name, _, _ in p.seeds} == {s["preset"] for s in d["seeds"] if s["evaluated"]}
    assert len(p.trained) == d["trials"].query("outcome == 'trained'")["arch"].nunique()


def test_write_outputs_and_report_cli(finished, tmp_path, capsys):
    write_outputs(finished, tmp_path)
    for name in OUTPUT_FILES:
        assert (tmp_path / name).stat().st_size > 0
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert len(trials) == len(finished.trials)
    best = json.loads((tmp_path / "best_arch.json").read_text())
    assert ArchConfig.from_dict(best).encode() == best["arch"] and best["ops"] <= best["budget"]
    report = (tmp_path / "report.md").read_text()
    assert "## Pareto front" in report and "bin_mobilenet_sp" in report and "## The papers' key choices" in report
    # where each trial trained: a seed repeats its numbers only there
    trained = trials[trials["outcome"] == "trained"]
    assert trained["machine"].str.startswith("cpu (").all() and trained["machine"].str.contains("torch").all()
    assert f"Trained on: {trained['machine'].iloc[0]}" in report
    # nas.report regenerates the same tables from the study alone.
    (tmp_path / "trials.csv").unlink()
    before = (tmp_path / "pareto.csv").read_text()
    assert report_main([str(tmp_path)]) == 0
    assert (tmp_path / "pareto.csv").read_text() == before
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "trials.csv"), trials)
    # a folder without a manifest gets one from nas.report (what it read, where the trials trained) ...
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["tool"] == "python -m nas.report" and manifest["command"].endswith(str(tmp_path))
    assert manifest["data"]["settings"]["budget"] == best["budget"]
    assert manifest["data"]["trained_on"] == sorted(set(trained["machine"]))
    # ... and a manifest already there (a search's own) is left as it is
    (tmp_path / "manifest.json").write_text('{"tool": "python -m nas.search"}')
    assert report_main([str(tmp_path)]) == 0
    assert (tmp_path / "manifest.json").read_text() == '{"tool": "python -m nas.search"}'


@pytest.mark.parametrize("bad", ["missing", "file"])
def test_report_cli_bad_folder(tmp_path, bad, capsys):
    from search_space.cli import run_cli

    target = tmp_path / "x"
    if bad == "file":
        target.write_text("x")
    assert run_cli(report_main, [str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: OUT:")


def test_hypervolume_so_far_grows_with_the_front_only():
    from nas.report.outputs import hypervolume_so_far

    t = pd.DataFrame({"outcome": ["pruned", "trained", "trained", "screened", "trained"],
                      "top1": [0.5, 0.3, 0.2, None, 0.4], "ops": [10e6, 20e6, 40e6, 5e6, 30e6]})
    hv = hypervolume_so_far(t, 50e6, 0.1)
    assert hv[0] is None  # a rung-stopped trial is not on the front
    assert hv[1] == pytest.approx(0.2 * 30e6 / (0.9 * 50e6))
    assert hv[2] == hv[1] == hv[3]  # dominated, then screened: no change
    assert hv[4] == pytest.approx((0.2 * 30e6 + 0.1 * 20e6) / (0.9 * 50e6))
