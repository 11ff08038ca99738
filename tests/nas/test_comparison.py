"""Seed presets trained after a search without them: stored off the trials, resumable, shared, in the report."""

from __future__ import annotations

from dataclasses import replace

import optuna
import pandas as pd
import pytest

from nas import SearchSettings, TrialRunner, arch_params, pareto_plot_data, report_data
from nas.comparison import comparison_pending, comparison_presets, run_comparison, stored_comparison, unfinished
from nas.report.presets import preset_points
from nas.search import main
from nas.study import load_study, open_study
from search_space import PRESETS, SEED_PRESETS, ArchConfig
from search_space.cli import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = ["--budget", "50M", "--fidelity", "smoke", "--train-subset", "200", "--val-size", "100", "--no-progress",
        "--sampler", "random"]
OTHER = "w0.5-d1:S-mid-k2-crelu-prelu-all"  # within budget, not a seed preset


def _search(out, cifar_dir, *extra):
    return run_cli(main, ["--data-dir", str(cifar_dir), "--out", str(out), *TINY, *extra])


def _enqueue_and_run(study, settings, arch: str = OTHER) -> str:
    study.enqueue_trial(arch_params(ArchConfig.decode(arch), settings.space))
    return TrialRunner(study, settings, data=None).run(study.ask())


def _new_study(tmp_path, settings):
    return open_study(f"sqlite:///{tmp_path / 's.db'}", "s", settings)[0]


def _study(out):
    return load_study(f"sqlite:///{out / 'study.db'}")


def _seeds(d):
    return {s["preset"]: s for s in d["seeds"]}


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
        assert 0 < entry["top1"] <= 1 and entry["ops"] <= 50e6 and not entry["diverged"] and not entry["error"]
        assert "torch" in entry["machine"]
    d = report_data(study)
    late = {s["preset"]: s for s in d["seeds"] if s["status"] == "after"}
    assert set(late) == set(stored)
    for s in late.values():
        assert s["top1"] == stored[s["preset"]]["top1"] and s["top1_se"] == d["noise"].sd  # smoke: not measured
        assert isinstance(s["dominated"], bool) and s["nearest"] in set(d["front"]["arch"])
        assert "lead" in s and s["within_noise"] is None
    assert _seeds(d)["bin_mobilenet_ls"]["status"] == "over budget"
    report = (out / "report.md").read_text()
    assert report.count("| after the search |") == len(stored) and "*After the search*" in report
    err = capsys.readouterr().err
    assert "training the seed preset" in err and f"comparison: {len(stored)} seed preset(s) trained" in err
    # the same command again extends the search by 3 trials and trains no preset again
    calls = len(fake_evaluate.calls)
    assert _search(out, cifar_dir, "--trials", "3", "--no-seed-presets") == 0
    assert len(fake_evaluate.calls) == calls + 3 and stored_comparison(_study(out)) == stored


def test_ctrl_c_in_the_comparison_keeps_what_trained_and_the_same_command_finishes_it(
        tmp_path, cifar_dir, fake_evaluate, monkeypatch, capsys):
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
    assert "| not compared |" in (out / "report.md").read_text()
    monkeypatch.setattr("nas.comparison.evaluate", fake_evaluate)
    monkeypatch.setattr("nas.objective.evaluate", fake_evaluate)
    before = len(fake_evaluate.calls)
    assert _search(out, cifar_dir, "--trials", "5", "--no-seed-presets") == 0  # another --trials: not used now
    done = stored_comparison(_study(out))
    (name, entry), = first.items()
    assert set(first) < set(done) and done[name] == entry
    assert len(fake_evaluate.calls) - before == len(done) - 1  # only the rest: no trial, no preset twice
    assert len(pd.read_csv(out / "trials.csv")) == 3
    assert "finishing the seed-preset comparison first" in capsys.readouterr().err
    assert _search(out, cifar_dir, "--trials", "2", "--no-seed-presets") == 0  # now it extends the search
    assert len(pd.read_csv(out / "trials.csv")) == 5


def test_a_comparison_never_started_is_finished_before_the_search_goes_on(tmp_path, cifar_dir, fake_evaluate,
                                                                          capsys):
    out = tmp_path / "a"
    assert _search(out, cifar_dir, "--trials", "2", "--no-seed-presets", "--no-compare-presets") == 0
    assert stored_comparison(_study(out)) == {} and len(fake_evaluate.calls) == 2
    report = (out / "report.md").read_text()
    assert "| after the search |" not in report and "| not compared |" in report and "*Not compared*" in report
    assert _search(out, cifar_dir, "--trials", "2", "--no-seed-presets") == 0
    assert len(pd.read_csv(out / "trials.csv")) == 2 and stored_comparison(_study(out))
    assert _search(tmp_path / "b", cifar_dir, "--trials", "2") == 0  # with the presets: they are trials
    assert stored_comparison(_study(tmp_path / "b")) == {}
    assert "| not trained yet |" in (tmp_path / "b" / "report.md").read_text()  # 2 of 5 seeds trained


def test_no_compare_presets_needs_no_seed_presets(tmp_path, capsys):
    assert run_cli(main, ["--budget", "50M", "--no-compare-presets", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--no-compare-presets: only meaningful with --no-seed-presets" in err[0]


def test_pending_only_once_the_search_holds_its_target(tmp_path, settings, fake_evaluate):
    study = _new_study(tmp_path, settings)
    assert _enqueue_and_run(study, settings) == "trained"
    assert not comparison_pending(study, settings, None) and not comparison_pending(study, settings, 2)
    assert comparison_pending(study, settings, 1)
    run_comparison(study, settings, data=None, progress=False)
    assert not comparison_pending(study, settings, 1) and unfinished(study, settings) == []


def test_a_preset_the_search_found_stands_and_one_it_stopped_is_trained(tmp_path, settings, fake_evaluate,
                                                                        monkeypatch):
    study = _new_study(tmp_path, settings)
    assert _enqueue_and_run(study, settings, PRESETS["bin_mobilenet_sp"].arch.encode()) == "trained"
    # the search drew MoBiNet Mid and stopped it at its first rung
    monkeypatch.setattr("nas.objective.TrialRunner._train",
                        lambda self, trial, arch, ops: self.finish(trial, "pruned", optuna.trial.TrialState.PRUNED))
    assert _enqueue_and_run(study, settings, PRESETS["mobinet_mid_k4_prelu"].arch.encode()) == "pruned"
    run = run_comparison(study, settings, data=None, progress=False)
    assert set(run.trained) == set(comparison_presets(settings)) - {"bin_mobilenet_sp"}
    seeds = _seeds(report_data(study))
    assert seeds["bin_mobilenet_sp"]["status"] == "found" and not seeds["bin_mobilenet_sp"]["proposed"]
    assert seeds["mobinet_mid_k4_prelu"]["status"] == "after" and seeds["mobinet_mid_k4_prelu"]["proposed"]
    labels = {label for label, *_ in preset_points(list(seeds.values()))}
    assert {"bin_mobilenet_sp (found by the search)", "mobinet_mid_k4_prelu (after the search)"} <= labels


def test_plot_marks_every_preset_with_a_score(tmp_path, settings, fake_evaluate):
    study = _new_study(tmp_path, settings)
    _enqueue_and_run(study, settings)
    run_comparison(study, settings, data=None, progress=False)
    d = report_data(study)
    p = pareto_plot_data(d["trials"], d["front"], settings.budget, presets=preset_points(d["seeds"]))
    assert sorted(label for label, _, _ in p.seeds) == sorted(f"{n} (after the search)"
                                                              for n in comparison_presets(settings))
    sp = PRESETS["bin_mobilenet_sp"].arch
    point = next((x, y) for label, x, y in p.seeds if label.startswith("bin_mobilenet_sp "))
    assert point == (pytest.approx(settings.ops(sp) / 1e6), pytest.approx(100 * _seeds(d)["bin_mobilenet_sp"]["top1"]))
    # each preset carries its error bar as the trials do; here no seed noise is known, so none is drawn
    assert all(_seeds(d)[label.split()[0]].get("top1_se") is None for label, _, _ in p.seeds)
    assert len(p.seeds_err) == len(p.seeds) and all(e != e for e in p.seeds_err)  # NaN: unknown


def test_a_diverged_or_failing_preset_is_recorded_and_not_retried(tmp_path, settings, fake_class, monkeypatch):
    fake = fake_class(diverge_on={PRESETS["bin_mobilenet_l"].arch.encode()},
                      fail_on={PRESETS["bin_mobilenet_sp"].arch.encode()})
    monkeypatch.setattr("nas.objective.evaluate", fake)
    monkeypatch.setattr("nas.comparison.evaluate", fake)
    study = _new_study(tmp_path, settings)
    _enqueue_and_run(study, settings)
    run = run_comparison(study, settings, data=None, progress=False)
    assert set(run.trained) == set(comparison_presets(settings))  # a failure does not stop the others
    stored = stored_comparison(study)
    assert stored["bin_mobilenet_l"]["diverged"] and stored["bin_mobilenet_l"]["top1"] is None
    assert "CUDA out of memory (simulated)" in stored["bin_mobilenet_sp"]["error"]
    assert stored["mobinet_mid_k4_prelu"]["top1"] > 0
    seeds = _seeds(report_data(study))
    assert seeds["bin_mobilenet_l"]["status"] == "diverged" and not seeds["bin_mobilenet_l"]["evaluated"]
    assert seeds["bin_mobilenet_sp"]["status"] == "error"
    write = tmp_path / "out"
    from nas import write_outputs

    write_outputs(study, write)
    report = (write / "report.md").read_text()
    assert "| bin_mobilenet_l | - |" in report and "| diverged |" in report
    assert "- bin_mobilenet_sp: RuntimeError: CUDA out of memory (simulated)" in report
    calls = len(fake.calls)
    assert run_comparison(study, settings, data=None, progress=False).trained == [] and len(fake.calls) == calls


def _stepping(fake, steps: int = 3):
    """A fake evaluate that reports training steps, as the real one does."""
    def evaluate(arch, fidelity, data, seed=0, *, progress=None, **kw):
        for i in range(1, steps + 1):
            if progress is not None:
                progress(i, steps, 1.0)
        return fake(arch, fidelity, data, seed, **kw)
    return evaluate


def test_trial_timeout_deadline_and_stop_requests_apply_to_the_comparison(tmp_path, settings, fake_evaluate,
                                                                          monkeypatch):
    monkeypatch.setattr("nas.comparison.evaluate", _stepping(fake_evaluate))
    study = _new_study(tmp_path, settings)
    _enqueue_and_run(study, settings)
    run = run_comparison(study, settings, data=None, progress=False, deadline=0.0)  # long past
    assert run.timed_out and run.trained == [] and stored_comparison(study) == {}
    run = run_comparison(study, settings, data=None, progress=False, trial_timeout=-1.0)  # over at the first step
    assert all("--trial-timeout" in e["error"] for e in stored_comparison(study).values())
    (tmp_path / "2").mkdir()
    study2 = _new_study(tmp_path / "2", settings)
    _enqueue_and_run(study2, settings)

    def stop():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_comparison(study2, settings, data=None, progress=False, check_stop=stop)
    assert stored_comparison(study2) == {}  # the preset in progress is lost, nothing half-written


def test_a_preset_claimed_by_a_live_process_is_left_to_it(tmp_path, settings, fake_evaluate, monkeypatch):
    import os
    import time

    from nas.backends.stale import HOST

    study = _new_study(tmp_path, settings)
    _enqueue_and_run(study, settings)
    parent = os.getppid()  # alive, and not this process
    from nas.backends.stale import _started

    study.set_user_attr("binas:comparing:bin_mobilenet_sp",
                        {"owner": f"{HOST}:{parent}:{_started(parent)}", "heartbeat": time.time()})
    study.set_user_attr("binas:comparing:bin_mobilenet_l", {"owner": f"{HOST}:999999999:1", "heartbeat": time.time()})
    run = run_comparison(study, settings, data=None, progress=False)
    assert run.elsewhere == ["bin_mobilenet_sp"]  # the dead owner's claim on MobileNet-L is taken over
    assert "bin_mobilenet_l" in run.trained and "bin_mobilenet_sp" not in stored_comparison(study)


@pytest.mark.parametrize("seeds", [2, 3])
def test_with_several_seeds_a_preset_gets_its_own_spread(tmp_path, settings, fake_class, monkeypatch, seeds):
    used = []

    def seeded(arch, fidelity, data, seed=0, **kw):
        used.append((arch.encode(), seed))
        r = fake_class()(arch, fidelity, data, seed, **kw)
        return replace(r, val_top1=r.val_top1 + 0.01 * seed)  # seeds differ

    monkeypatch.setattr("nas.objective.evaluate", seeded)
    monkeypatch.setattr("nas.comparison.evaluate", seeded)
    settings = replace(settings, seeds=seeds, seed=4)
    study = _new_study(tmp_path, settings)
    _enqueue_and_run(study, settings)
    run_comparison(study, settings, data=None, progress=False)
    entry = stored_comparison(study)["mobinet_mid_k4_prelu"]
    mid = PRESETS["mobinet_mid_k4_prelu"].arch.encode()
    assert [s for a, s in used if a == mid] == [4 + i for i in range(seeds)]  # the search's training seeds
    assert len(entry["top1_seeds"]) == seeds and entry["top1_sd"] > 0
    assert entry["top1"] == pytest.approx(sum(entry["top1_seeds"]) / seeds, abs=1e-6)
    d = report_data(study)
    mine = _seeds(d)["mobinet_mid_k4_prelu"]
    noise = d["noise"].sd  # pooled over the trial's seeds (and only it: presets are not trials)
    assert mine["top1_se"] == pytest.approx(noise / seeds ** 0.5)
