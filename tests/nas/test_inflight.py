"""Concurrent workers: an architecture in training elsewhere is not trained twice, an
interrupt between ask and training loses no queued trial, and a worker waits while the last
slots are held by trials that may yet end without counting."""

from __future__ import annotations

import threading
import time

import optuna
import pytest
from optuna.trial import TrialState

from nas import TrialRunner, arch_params, open_study
from nas.adapter import suggest_arch
from nas.backends.loop import LoopConfig, _run_one, count_trained, run_worker
from nas.backends.stale import HOST
from nas.study import default_storage
from search_space import PRESETS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _params(settings, name="bin_mobilenet_sp"):
    return arch_params(PRESETS[name].arch, settings.space)


def _drawn(study, runner, params):
    """A trial another worker has taken and recorded its architecture on (RUNNING)."""
    study.enqueue_trial(params)
    t = study.ask()
    t.set_user_attr("owner", f"{HOST}:1")  # pid 1: alive, not us
    runner.record_candidate(t, suggest_arch(t, runner.settings.space))
    return t


def _in_training(study, runner, params):
    """A trial another worker has checked and is training."""
    t = _drawn(study, runner, params)
    t.set_user_attr("training", True)
    return t


def test_an_architecture_in_training_elsewhere_is_withdrawn_not_trained(tmp_path, settings, fake_evaluate):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    runner = TrialRunner(study, settings, data=None)
    busy = _in_training(study, runner, _params(settings))
    study.enqueue_trial(_params(settings))
    assert runner.run(study.ask()) == "withdrawn"
    later = study.trials[-1]
    assert later.state == TrialState.FAIL and later.user_attrs["duplicate_of"] == busy.number
    assert "is training the same architecture" in later.user_attrs["fail_reason"]
    assert fake_evaluate.calls == [] and not study.get_trials(states=(TrialState.WAITING,))  # busy trains it
    # Another architecture is not held back by it.
    study.enqueue_trial(_params(settings, "mobinet_pre_k4_relu"))
    assert runner.run(study.ask()) == "trained" and len(fake_evaluate.calls) == 1


def test_of_two_trials_that_drew_one_architecture_the_first_to_look_gives_way(tmp_path, settings, fake_evaluate):
    """Both recorded it before either looked: the first to look withdraws and queues its queued
    parameters again (the other may be withdrawing too); the second then trains it. The
    re-queued copy later finds it in training (or trained) and costs nothing."""
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    runner = TrialRunner(study, settings, data=None)
    first = _drawn(study, runner, _params(settings))
    second = _drawn(study, runner, _params(settings))
    arch = PRESETS["bin_mobilenet_sp"].arch
    assert runner.settle_if_taken(second, arch) == "withdrawn"
    (requeued,) = study.get_trials(states=(TrialState.WAITING,))
    assert requeued.user_attrs["retry_of"] == second.number
    assert runner.settle_if_taken(first, arch) is None  # goes on to train, marked as training
    assert study.trials[first.number].user_attrs["training"] is True
    assert runner.run(study.ask()) == "withdrawn"  # the re-queued copy: first is training it
    assert not study.get_trials(states=(TrialState.WAITING,)) and fake_evaluate.calls == []


@pytest.mark.parametrize("where", ["suggest_arch", "record_candidate"])
def test_an_interrupt_before_training_queues_the_trial_again(tmp_path, settings, fake_evaluate, monkeypatch, where):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    runner = TrialRunner(study, settings, data=None)

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    if where == "suggest_arch":
        monkeypatch.setattr("nas.objective.suggest_arch", interrupt)
    else:
        monkeypatch.setattr(runner, "record_candidate", interrupt)
    params = _params(settings)
    study.enqueue_trial(params, user_attrs={"seed_preset": "bin_mobilenet_sp"})
    with pytest.raises(KeyboardInterrupt):
        _run_one(study, runner, target=1)
    failed, waiting = study.trials
    assert failed.state == TrialState.FAIL and failed.user_attrs["outcome"] == "interrupted"
    assert waiting.state == TrialState.WAITING and waiting.system_attrs["fixed_params"] == params
    assert waiting.user_attrs == {"seed_preset": "bin_mobilenet_sp", "retry_of": failed.number}
    assert fake_evaluate.calls == []


def test_a_worker_waits_while_the_last_slot_is_held_and_takes_it_if_freed(tmp_path, settings, fake_evaluate):
    """Target 1 and another worker's trial holds the slot: this worker neither trains past the
    target nor gives up; when that trial ends without counting, it trains the one left."""
    storage = default_storage(tmp_path)
    study, _ = open_study(storage, "s", settings)
    runner = TrialRunner(study, settings, data=None)
    busy = _in_training(study, runner, _params(settings))
    assert count_trained(study) == (0, 1)
    cfg = LoopConfig(storage, "s", settings, None, sampler="random")
    errors: list[BaseException] = []

    def worker():
        try:
            run_worker(cfg, 1, data=object())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    time.sleep(2.5)
    assert thread.is_alive() and fake_evaluate.calls == []
    assert len(study.trials) == 1  # it asked for nothing
    runner.interrupted(busy)  # the other worker was stopped: its trial will not count
    thread.join(timeout=60)
    assert not thread.is_alive() and not errors, errors
    assert len(fake_evaluate.calls) == 1 and count_trained(study) == (1, 0)
