"""Seed presets trained after a search without them: stored off the trials, resumable, in the report."""

from __future__ import annotations

from dataclasses import replace

import optuna
import pandas as pd
import pytest

from nas import SearchSettings, report_data
from nas.comparison import COMPARISON_KEY, comparison_presets, run_comparison, stored_comparison
from nas.search import main
from nas.study import load_study, open_study
from search_space import PRESETS, SEED_PRESETS
from search_space.cli import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = ["--budget", "50M", "--fidelity", "smoke", "--train-subset", "200", "--val-size", "100", "--no-progress",
        "--sampler", "random"]


def _search(out, cifar_dir, *extra):
    return run_cli(main, ["--data-dir", str(cifar_dir), "--out", str(out), *TINY, *extra])


def _one_trial(study, settings, arch: str = "w0.5-d1:S-mid-k2-crelu-prelu-all") -> None:
    """One trained trial of a fixed architecture within budget (not a seed preset)."""
    from nas import TrialRunner, arch_params
    from search_space import ArchConfig

    study.enqueue_trial(arch_params(ArchConfig.decode(arch), settings.space))
    assert TrialRunner(study, settings, data=None).run(study.ask()) == "trained"


def _study(out):
    return load_study(f"sqlite:///{out / 'study.db'}")


def test_the_presets_a_search_could_have_found(settings):
    names = comparison_presets(settings)
    assert names and set(names) <= set(SEED_PRESETS)
    assert all(settings.fits(PRESETS[n].arch) for n in names)
    over = [n for n in SEED_PRESETS if not settings.fits(PRESETS[n].arch)]
    assert over and not set(over) & set(names)  # e.g. MobileNet-LS is over 50M
    assert comparison_presets(replace(settings, budget=1)) == []


def test_a_search_without_presets_trains_them_afterwards_unseen(tmp_path, cifar_dir, fake_evaluate, capsys):
    out = tmp_path / "run"
    assert _search(out, cifar_dir, "--trials", "3", "--no-seed-presets") == 0
    study = _study(out)
    stored = stored_comparison(study)
    trials = pd.read_csv(out / "trials.csv")
    searched = set(trials.loc[trials["outcome"] == "trained", "arch"])
    could = comparison_presets(SearchSettings(budget=50_000_000))  # fidelity does not matter here
    assert set(stored) == {n for n in could if PRESETS[n].arch.encode() not in searched} and stored
    # trained as the trials were, but never a trial: the sampler cannot see them
    assert len(study.trials) == len(trials) and trials["seed_preset"].isna().all()
    assert len(fake_evaluate.calls) == 3 + len(stored)
    for name, entry in stored.items():
        assert entry["arch"] == PRESETS[name].arch.encode() and entry["fidelity"] == trials["fidelity"].iloc[0]
        assert 0 < entry["top1"] <= 1 and entry["ops"] <= 50e6 and not entry["diverged"]
    d = report_data(study)
    late = {s["preset"]: s for s in d["seeds"] if s["source"] == "after"}
    assert set(late) == set(stored)
    for s in late.values():
        assert s["top1"] == stored[s["preset"]]["top1"] and s["top1_se"] == d["noise"].sd  # smoke: not measured
        assert isinstance(s["dominated"], bool) and s["nearest"] in set(d["front"]["arch"])
        assert "lead" in s and s["within_noise"] is None
    report = (out / "report.md").read_text()
    assert report.count("| after the search |") == len(stored)
    assert "training the seed preset" in capsys.readouterr().err
    # the same command again extends the search by 3 trials and trains no preset again
    calls = len(fake_evaluate.calls)
    assert _search(out, cifar_dir, "--trials", "3", "--no-seed-presets") == 0
    assert len(fake_evaluate.calls) == calls + 3 and stored_comparison(_study(out)) == stored


def test_ctrl_c_in_the_comparison_keeps_what_trained_and_resumes(tmp_path, cifar_dir, fake_evaluate, monkeypatch,
                                                                  capsys):
    out = tmp_path / "run"
    calls = []

    def interrupting(arch, *a, **k):
        calls.append(arch.encode())
        if len(calls) == 5:  # 3 trials, one preset, then Ctrl-C in the second
            raise KeyboardInterrupt
        return fake_evaluate(arch, *a, **k)

    monkeypatch.setattr("nas.objective.evaluate", interrupting)
    monkeypatch.setattr("nas.comparison.evaluate", interrupting)
    assert _search(out, cifar_dir, "--trials", "3", "--no-seed-presets") == 130
    assert "interrupted: run the same command to resume" in capsys.readouterr().err
    first = stored_comparison(_study(out))
    assert len(first) == 1 and (out / "report.md").read_text().count("| after the search |") == 1
    monkeypatch.setattr("nas.comparison.evaluate", fake_evaluate)
    monkeypatch.setattr("nas.objective.evaluate", fake_evaluate)
    before = len(fake_evaluate.calls)
    assert _search(out, cifar_dir, "--trials", "3", "--no-seed-presets") == 0
    done = stored_comparison(_study(out))
    assert set(first) < set(done) and done[next(iter(first))] == first[next(iter(first))]
    assert len(fake_evaluate.calls) - before == len(done) - 1  # only the rest: no trial, no preset twice
    assert len(pd.read_csv(out / "trials.csv")) == 3 and "(target 3)" in capsys.readouterr().err


def test_no_comparison_when_asked_not_to_or_with_the_presets_as_trials(tmp_path, cifar_dir, fake_evaluate, capsys):
    out = tmp_path / "a"
    assert _search(out, cifar_dir, "--trials", "2", "--no-seed-presets", "--no-compare-presets") == 0
    assert stored_comparison(_study(out)) == {} and len(fake_evaluate.calls) == 2
    assert "| after the search |" not in (out / "report.md").read_text()
    assert _search(tmp_path / "b", cifar_dir, "--trials", "2") == 0  # with the presets: they are trials
    assert stored_comparison(_study(tmp_path / "b")) == {}


def test_no_compare_presets_needs_no_seed_presets(tmp_path, capsys):
    assert run_cli(main, ["--budget", "50M", "--no-compare-presets", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--no-compare-presets: only meaningful with --no-seed-presets" in err[0]


def test_a_preset_the_search_found_is_not_trained_again(tmp_path, settings, fake_evaluate):
    from nas import TrialRunner, arch_params

    study, _ = open_study(f"sqlite:///{tmp_path / 's.db'}", "s", settings)
    sp = PRESETS["bin_mobilenet_sp"].arch
    study.enqueue_trial(arch_params(sp, settings.space))
    TrialRunner(study, settings, data=None).run(study.ask())
    trained = run_comparison(study, settings, data=None, progress=False)
    assert set(trained) == set(comparison_presets(settings)) - {"bin_mobilenet_sp"}
    seeds = {s["preset"]: s for s in report_data(study)["seeds"]}
    assert seeds["bin_mobilenet_sp"]["source"] == "search"
    assert all(seeds[n]["source"] == "after" for n in trained)


def test_a_diverged_preset_is_reported_as_such(tmp_path, settings, fake_class, monkeypatch):

    fake = fake_class(diverge_on={PRESETS["bin_mobilenet_l"].arch.encode()})
    monkeypatch.setattr("nas.objective.evaluate", fake)
    monkeypatch.setattr("nas.comparison.evaluate", fake)
    study, _ = open_study(f"sqlite:///{tmp_path / 's.db'}", "s", settings)
    _one_trial(study, settings)
    run_comparison(study, settings, data=None, progress=False)
    entry = study.user_attrs[COMPARISON_KEY]["bin_mobilenet_l"]
    assert entry["diverged"] and entry["top1"] is None
    seeds = {s["preset"]: s for s in report_data(study)["seeds"]}
    assert seeds["bin_mobilenet_l"]["diverged"] and seeds["bin_mobilenet_l"].get("top1") is None


@pytest.mark.parametrize("seeds", [2])
def test_with_several_seeds_a_preset_gets_its_own_spread(tmp_path, settings, fake_evaluate, seeds):

    settings = replace(settings, seeds=seeds)
    study, _ = open_study(f"sqlite:///{tmp_path / 's.db'}", "s", settings)
    _one_trial(study, settings)
    run_comparison(study, settings, data=None, progress=False)
    entry = stored_comparison(study)["mobinet_mid_k4_prelu"]
    assert len(entry["top1_seeds"]) == seeds and entry["top1_sd"] >= 0
    assert len(fake_evaluate.calls) == seeds * (1 + len(stored_comparison(study)))


def test_no_comparison_before_the_search_has_its_target(tmp_path, settings, fake_evaluate, capsys):
    """A search stopped short (--timeout) compares nothing yet: the same command goes on first."""
    from argparse import Namespace

    from nas.search import _compare

    study, _ = open_study(f"sqlite:///{tmp_path / 's.db'}", "s", settings)
    _one_trial(study, settings)
    _compare(study, settings, None, Namespace(device=None, no_progress=True), target=2)
    assert stored_comparison(study) == {} and len(fake_evaluate.calls) == 1
    assert "seed presets not compared yet: the search has 1 of 2 trials" in capsys.readouterr().err
    _compare(study, settings, None, Namespace(device=None, no_progress=True), target=1)
    assert len(stored_comparison(study)) == len(fake_evaluate.calls) - 1 > 0
