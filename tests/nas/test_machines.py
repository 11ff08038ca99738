"""What must be the same on every machine of a search: a worker with another binas version or without the
data folder gives one line naming what differs, and the trial it held is queued again, never lost."""

from __future__ import annotations

import optuna
import pytest

from nas import SearchSettings
from nas.backends import ray_tune
from nas.backends.loop import LoopConfig
from nas.backends.machines import worker_mismatch
from nas.objective import TrialRunner
from nas.outcomes import Attr, Outcome
from nas.study import VERSION_ATTR, default_storage, open_study
from proxies import Fidelity
from proxies.manifest import binas_version

SETTINGS = SearchSettings(budget=50_000_000, fidelity=Fidelity(epochs=1, train_subset=100, val_size=50),
                          fidelity_name="test")


def test_a_worker_like_the_driver_may_train(tmp_path):
    assert worker_mismatch(binas_version(), str(tmp_path)) is None


def test_another_version_or_no_data_folder_is_one_line_naming_it(tmp_path):
    line = worker_mismatch("0.0.1-other", str(tmp_path))
    assert f"runs binas {binas_version()}, the driver binas 0.0.1-other" in line and "\n" not in line
    missing = str(tmp_path / "nowhere")
    line = worker_mismatch(binas_version(), missing)
    assert f"has no data folder {missing!r}" in line and "--data-dir" in line and "\n" not in line


def test_a_study_made_by_another_binas_version_is_refused_and_left_as_it_is(tmp_path):
    storage = default_storage(tmp_path)
    study, resumed = open_study(storage, "s", SETTINGS)
    assert not resumed and study.user_attrs[VERSION_ATTR] == binas_version()
    study.set_user_attr(VERSION_ATTR, "0.0.1-other")
    with pytest.raises(ValueError, match=r"--storage: study 's' was made by binas 0.0.1-other, this is binas"):
        open_study(storage, "s", SETTINGS)
    assert optuna.load_study(study_name="s", storage=storage).user_attrs[VERSION_ATTR] == "0.0.1-other"
    old = optuna.create_study(study_name="old", storage=storage, directions=["maximize", "minimize"])
    for key, value in SETTINGS.meta().items():  # a study made before binas recorded its version
        old.set_user_attr("binas:" + key, value)
    _, resumed = open_study(storage, "old", SETTINGS)
    assert resumed and optuna.load_study(study_name="old", storage=storage).user_attrs[VERSION_ATTR] == binas_version()


def test_the_driver_requeues_a_mismatched_workers_trial_and_keeps_its_line(tmp_path, monkeypatch):
    pytest.importorskip("ray.tune.search.optuna")
    monkeypatch.setattr(ray_tune, "_MISMATCH", [])
    cfg = LoopConfig(storage=default_storage(tmp_path), study_name="s", settings=SETTINGS, data_dir=None,
                     sampler="random")
    study, _ = open_study(cfg.storage, cfg.study_name, SETTINGS)
    searcher = ray_tune.build_searcher(cfg, study, TrialRunner(study, SETTINGS, None))
    config = searcher.suggest("ray-0")
    assert config["binas"] == binas_version()  # what each worker checks itself against
    line = "a Ray worker on node-2 has no data folder '/data/cifar10' (--data-dir must name the same path)"
    searcher.on_trial_complete("ray-0", {"mismatch": line, "top1": 0.0, "epoch": 0, "done": True})
    assert [line] == ray_tune._MISMATCH
    trials = optuna.load_study(study_name="s", storage=cfg.storage).trials
    assert trials[0].user_attrs[Attr.OUTCOME] == Outcome.INTERRUPTED
    queued = [t for t in trials if t.state == optuna.trial.TrialState.WAITING]
    assert trials[0].user_attrs[Attr.ARCH] == config["arch"]
    assert len(queued) == 1 and queued[0].system_attrs["fixed_params"] == trials[0].params  # trained later: not lost
    assert queued[0].user_attrs["retry_of"] == trials[0].number
