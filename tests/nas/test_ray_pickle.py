"""Ray Tune pickles the search algorithm when it builds the Tuner: the searcher must survive
``ray.cloudpickle`` whatever its sampler holds (Optuna's GA samplers hold a ``threading.Lock``)."""

from __future__ import annotations

import pickle
import threading

import optuna
import pytest

from nas import SearchSettings
from nas.backends.loop import LoopConfig
from nas.backends.ray_tune import build_searcher
from nas.objective import TrialRunner
from nas.samplers import SAMPLERS
from nas.study import default_storage, open_study
from proxies import Fidelity

ray_cloudpickle = pytest.importorskip("ray.cloudpickle")


def _searcher(tmp_path, sampler: str):
    settings = SearchSettings(budget=50_000_000, fidelity=Fidelity(epochs=1, train_subset=100, val_size=50),
                              fidelity_name="test")
    cfg = LoopConfig(storage=default_storage(tmp_path), study_name="s", settings=settings, data_dir=None,
                     sampler=sampler)
    study, _ = open_study(cfg.storage, cfg.study_name, settings)
    return build_searcher(cfg, study, TrialRunner(study, settings, None)), cfg


def _with_lock(factory):
    """A sampler factory whose samplers hold a lock, as Optuna 5.1's GA samplers do, in any Optuna version."""

    def make(*args, **kw):
        sampler = factory(*args, **kw)
        sampler._binas_test_lock = threading.Lock()
        return sampler

    return make


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_searcher_survives_ray_cloudpickle(tmp_path, sampler, monkeypatch):
    monkeypatch.setitem(SAMPLERS, sampler, _with_lock(SAMPLERS[sampler]))
    searcher, cfg = _searcher(tmp_path, sampler)
    with pytest.raises(TypeError, match="lock"):  # the cause is there: the live sampler does not pickle
        pickle.dumps(searcher._sampler)
    copy = ray_cloudpickle.loads(ray_cloudpickle.dumps(searcher))
    assert type(copy._sampler) is type(searcher._sampler) and copy._sampler is not searcher._sampler
    study = copy._ot_study
    assert isinstance(study, optuna.Study) and study.sampler is copy._sampler
    assert study.study_name == cfg.study_name
    config = copy.suggest("ray-trial-0")  # the copy proposes a within-budget architecture in the same study
    assert config is not None and config["ops"] <= cfg.settings.budget
    assert len(optuna.load_study(study_name="s", storage=cfg.storage).trials) == 1
