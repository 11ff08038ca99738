"""Study creation and resume, the budget constraint, dedup, rungs and failing trials."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from nas import SearchSettings, TrialRunner, arch_params, enqueue_seed_presets, open_study
from nas.rungs import RungPolicy
from nas.study import default_storage
from proxies import Fidelity
from search_space import PRESETS, SEED_PRESETS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(tmp_path, settings, name="s"):
    return open_study(default_storage(tmp_path), name, settings)


def _run(runner, study, params):
    study.enqueue_trial(params)
    return runner.run(study.ask())


def test_open_resume_and_refuse_other_settings(tmp_path, settings):
    study, resumed = _study(tmp_path, settings)
    assert not resumed
    study2, resumed = _study(tmp_path, settings)
    assert resumed and study2.study_name == "s"
    other = SearchSettings(budget=40_000_000, fidelity=settings.fidelity)
    with pytest.raises(ValueError, match=r"created with budget 50.00M OPs, this run asks 40.00M OPs"):
        _study(tmp_path, other)
    with pytest.raises(ValueError, match="created with fidelity"):
        _study(tmp_path, SearchSettings(budget=settings.budget, fidelity=Fidelity(epochs=1)))
    from search_space import SearchSpace

    with pytest.raises(ValueError, match="a different search space"):
        _study(tmp_path, SearchSettings(budget=settings.budget, fidelity=settings.fidelity,
                                        space=SearchSpace(depths=(1,))))


def test_corrupt_sqlite_is_refused_and_left_alone(tmp_path, settings):
    db = tmp_path / "study.db"
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    with pytest.raises(ValueError, match="not a usable SQLite database"):
        _study(tmp_path, settings)
    assert db.read_bytes() == before


def test_sqlite_with_damaged_pages_is_refused_and_left_alone(tmp_path, settings):
    _study(tmp_path, settings)
    db = tmp_path / "study.db"
    data = bytearray(db.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)  # header intact, every page garbage
    db.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a usable SQLite database"):
        _study(tmp_path, settings)
    assert db.read_bytes() == bytes(data)


_KILLED_WRITER = """
import os, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size=1")  # spill to the database file before the commit
con.execute("BEGIN IMMEDIATE")
con.execute("CREATE TABLE junk AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)"
            " SELECT i, hex(randomblob(32)) AS b FROM n")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_study_killed_in_the_middle_of_a_write_opens_again(tmp_path, settings, fake_evaluate):
    """SIGKILL during a transaction leaves a hot journal; the next run rolls it back and resumes
    (the chaos benchmark found a read-only check refusing such a file as 'not usable')."""
    import subprocess
    import sys

    study, _ = _study(tmp_path, settings)
    assert _run(TrialRunner(study, settings, data=None), study,
                arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)) == "trained"
    db = tmp_path / "study.db"
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(db)], timeout=120)
    assert (tmp_path / "study.db-journal").stat().st_size > 0  # a hot journal was left
    again, resumed = _study(tmp_path, settings)
    assert resumed and [t.user_attrs["outcome"] for t in again.trials] == ["trained"]
    assert not (tmp_path / "study.db-journal").exists()  # rolled back


def test_bad_storage_url_is_one_line(tmp_path, settings):
    with pytest.raises(ValueError, match=r"--storage: cannot open 'nosuchdb://x'"):
        open_study("nosuchdb://x", "s", settings)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_study_works(url, settings, fake_evaluate):
    study, resumed = open_study(url, "s", settings)
    assert not resumed
    runner = TrialRunner(study, settings, data=None)
    assert _run(runner, study, arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)) == "trained"
    assert [t.user_attrs["outcome"] for t in study.trials] == ["trained"]


def test_seed_presets_within_budget_are_queued_once(tmp_path, settings):
    study, _ = _study(tmp_path, settings)
    queued = enqueue_seed_presets(study, settings)
    fits = [n for n in SEED_PRESETS if settings.fits(PRESETS[n].arch)]
    assert queued == fits and "bin_mobilenet_sp" in fits and "bin_mobilenet_ls" not in fits
    assert enqueue_seed_presets(study, settings) == []
    assert len(study.get_trials(states=(TrialState.WAITING,))) == len(fits)


def test_over_budget_is_rejected_before_training(tmp_path, settings, fake_evaluate):
    study, _ = _study(tmp_path, settings)
    runner = TrialRunner(study, settings, data=None)
    big = PRESETS["bin_mobilenet_ls"].arch  # 75M OPs
    assert _run(runner, study, arch_params(big, settings.space)) == "over_budget"
    assert fake_evaluate.calls == []
    t = study.trials[-1]
    assert t.state == TrialState.PRUNED and t.user_attrs["ops"] > settings.budget
    assert t.constraints["ops_over_budget"] > 0


def test_duplicates_are_never_retrained(tmp_path, settings, fake_evaluate):
    study, _ = _study(tmp_path, settings)
    runner = TrialRunner(study, settings, data=None)
    params = arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)
    assert _run(runner, study, params) == "trained"
    assert _run(runner, study, params) == "duplicate"
    assert len(fake_evaluate.calls) == 1
    first, second = study.trials[-2:]
    assert second.values == first.values and second.user_attrs["duplicate_of"] == first.number
    # Another fidelity is another evaluation.
    other = SearchSettings(budget=settings.budget, fidelity=Fidelity(epochs=2, train_subset=100, val_size=50))
    study2, _ = open_study(default_storage(tmp_path), "other", other)
    assert _run(TrialRunner(study2, other, data=None), study2, params) == "trained"


def test_rungs_stop_dominated_candidates_but_never_seed_presets(tmp_path, settings, monkeypatch):
    study, _ = _study(tmp_path, settings)
    scores = iter([0.9, 0.8, 0.7, 0.6, 0.1, 0.1])

    def evaluate(arch, fidelity, data, seed=0, *, on_epoch=None, **kw):
        from proxies import ProxyResult

        top1 = next(scores)
        stop = on_epoch(1, top1, 1.0)
        return ProxyResult(arch.encode(), "f", seed, top1, 1.0, 1 if stop else 3, 0.1, 10.0, pruned=bool(stop))

    monkeypatch.setattr("nas.objective.evaluate", evaluate)
    runner = TrialRunner(study, settings, data=None, rungs=RungPolicy(eta=3, min_peers=4))
    same_ops = [PRESETS[f"mobinet_mid_k{k}_prelu"].arch for k in range(5)]  # distinct archs
    outcomes = [_run(runner, study, arch_params(a, settings.space)) for a in same_ops[:4]]
    assert outcomes == ["trained"] * 4  # fewer than 4 peers at the rung: nothing stopped
    # A dominated fifth candidate stops at epoch 1 ...
    assert _run(runner, study, arch_params(same_ops[4], settings.space)) == "pruned"
    assert study.trials[-1].state == TrialState.PRUNED and study.trials[-1].user_attrs["curve"] == [0.1]
    # ... but the same score on a seed preset does not stop it.
    study.enqueue_trial(arch_params(PRESETS["mobinet_pre_k0_prelu"].arch, settings.space),
                        user_attrs={"seed_preset": "mobinet_pre_k0_prelu"})
    assert runner.run(study.ask()) == "trained"


def test_failures_are_recorded_and_the_search_goes_on(tmp_path, settings, monkeypatch, fake_class):
    sp, mid = PRESETS["bin_mobilenet_sp"].arch, PRESETS["mobinet_mid_k4_prelu"].arch
    fake = fake_class(fail_on={sp.encode()}, diverge_on={mid.encode()})
    monkeypatch.setattr("nas.objective.evaluate", fake)
    study, _ = _study(tmp_path, settings)
    runner = TrialRunner(study, settings, data=None)
    assert _run(runner, study, arch_params(sp, settings.space)) == "error"
    assert "out of memory" in study.trials[-1].user_attrs["fail_reason"]
    assert _run(runner, study, arch_params(mid, settings.space)) == "diverged"
    assert study.trials[-1].state == TrialState.FAIL
    assert _run(runner, study, arch_params(PRESETS["bin_mobilenet_l"].arch, settings.space)) == "trained"


def test_interrupted_trial_is_queued_again(tmp_path, settings, monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("nas.objective.evaluate", interrupt)
    study, _ = _study(tmp_path, settings)
    runner = TrialRunner(study, settings, data=None)
    params = arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)
    study.enqueue_trial(params, user_attrs={"seed_preset": "bin_mobilenet_sp"})
    with pytest.raises(KeyboardInterrupt):
        runner.run(study.ask())
    failed, waiting = study.trials
    assert failed.state == TrialState.FAIL and failed.user_attrs["outcome"] == "interrupted"
    assert waiting.state == TrialState.WAITING and waiting.system_attrs["fixed_params"] == params
    assert waiting.user_attrs["seed_preset"] == "bin_mobilenet_sp"


def test_trial_timeout_is_recorded_and_the_search_goes_on(tmp_path, settings, monkeypatch):
    import time as _time

    def slow(arch, fidelity, data, seed=0, *, progress=None, **kw):
        for step in range(1000):
            _time.sleep(0.01)
            progress(step, 1000, 1.0)
        raise AssertionError("not stopped")

    monkeypatch.setattr("nas.objective.evaluate", slow)
    study, _ = _study(tmp_path, settings)
    runner = TrialRunner(study, settings, data=None, trial_timeout=0.1)
    assert _run(runner, study, arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)) == "error"
    t = study.trials[-1]
    assert t.state == TrialState.FAIL and t.user_attrs["fail_reason"].startswith("trial time limit")


def test_seeds_train_every_architecture_n_times_and_rank_on_the_mean(tmp_path, settings, monkeypatch):
    from dataclasses import replace

    from proxies import ProxyResult

    seen = []

    def fake(arch, fidelity, data, seed=0, *, on_epoch=None, **kw):
        seen.append(seed)
        top1 = 0.3 + 0.1 * seed
        for e in range(1, fidelity.epochs + 1):
            if on_epoch is not None:
                on_epoch(e, top1, 1.0)
        return ProxyResult(arch.encode(), fidelity.key(), seed, top1, 1.0, fidelity.epochs, 1.0, 10.0)

    monkeypatch.setattr("nas.objective.evaluate", fake)
    three = replace(settings, seeds=3)
    study, _ = _study(tmp_path, three)
    runner = TrialRunner(study, three, data=None, train_seed=5)
    assert _run(runner, study, arch_params(PRESETS["bin_mobilenet_sp"].arch, three.space)) == "trained"
    t = study.trials[-1]
    assert seen == [5, 6, 7]
    assert t.user_attrs["top1_seeds"] == [0.8, 0.9, 1.0]
    assert t.values[0] == pytest.approx(0.9) and t.user_attrs["top1_sd"] == pytest.approx(0.1)
    assert t.user_attrs["curve"] == [0.8] * settings.fidelity.epochs  # the first seed's curve (the rungs')
    with pytest.raises(ValueError, match="created with seeds 3, this run asks 1"):
        _study(tmp_path, settings)


def test_a_study_from_before_seeds_resumes_with_one_seed_only(tmp_path, settings):
    import sqlite3
    from dataclasses import replace

    _study(tmp_path, settings)
    con = sqlite3.connect(tmp_path / "study.db")  # as a version without --seeds stored it
    with con:
        con.execute("DELETE FROM study_user_attributes WHERE key = 'binas:seeds'")
    con.close()
    with pytest.raises(ValueError, match="created with seeds 1, this run asks 2"):
        _study(tmp_path, replace(settings, seeds=2))
    study, resumed = _study(tmp_path, settings)
    assert resumed and study.user_attrs["binas:seeds"] == 1
    with pytest.raises(ValueError, match="--seeds: invalid value 0"):
        replace(settings, seeds=0)


def test_a_study_resumed_with_another_seed_is_refused_and_an_older_one_stays_unrecorded(tmp_path, settings):
    """The seed selects the data: a study resumed with another one would rank trials trained on two subsets."""
    import sqlite3
    from dataclasses import replace

    _study(tmp_path, settings)
    with pytest.raises(ValueError, match="created with seed 0, this run asks 1"):
        _study(tmp_path, replace(settings, seed=1))
    con = sqlite3.connect(tmp_path / "study.db")  # as a version that did not store --seed
    with con:
        con.execute("DELETE FROM study_user_attributes WHERE key = 'binas:seed'")
    con.close()
    study, resumed = _study(tmp_path, replace(settings, seed=1))  # what it ran with is unknown: not checked,
    assert resumed and "binas:seed" not in study.user_attrs  # and not taken from this run either


def test_a_storage_created_by_another_process_at_the_same_instant_is_opened(monkeypatch, tmp_path):
    from nas import study as study_mod

    real, calls = optuna.storages.RDBStorage, []

    def racing(url, **kw):
        calls.append(url)
        if len(calls) == 1:  # the other process made the tables between our check and our CREATE
            raise RuntimeError("(sqlite3.OperationalError) table trial_system_attributes already exists")
        return real(url, **kw)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    assert isinstance(study_mod.open_storage(default_storage(tmp_path)), real) and len(calls) == 2

    def broken(url, **kw):
        raise RuntimeError("unable to open database file")

    monkeypatch.setattr(optuna.storages, "RDBStorage", broken)
    with pytest.raises(ValueError, match=r"--storage: cannot open .* \(unable to open database file\)"):
        study_mod.open_storage(default_storage(tmp_path / "x"))
