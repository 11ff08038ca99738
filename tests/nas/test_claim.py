"""Exact trial counts with concurrent workers: claim a slot, or withdraw."""

from __future__ import annotations

import threading
import time

import optuna
import pytest
from optuna.trial import TrialState

from nas import arch_params, open_study
from nas.backends.loop import LoopConfig, claim_slot, count_trained, run_worker
from nas.study import default_storage
from search_space import PRESETS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _at_once(n: int, body, barrier: bool = False) -> None:
    """Run ``body`` in ``n`` threads released together; fail with the first error any raised.
    ``barrier``: ``body`` takes the barrier and waits on it itself (after its own set-up)."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run():
        try:
            if barrier:
                body(start)
            else:
                start.wait()
                body()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_the_trial_past_the_target_is_withdrawn_and_its_queued_params_kept(tmp_path, settings):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    first = study.ask()
    assert claim_slot(study, first, target=1)
    params = arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)
    study.enqueue_trial(params, user_attrs={"seed_preset": "bin_mobilenet_sp"})
    second = study.ask()
    assert second.params == {} and not claim_slot(study, second, target=1)
    frozen = study.trials[second.number]
    assert frozen.state == TrialState.FAIL and frozen.user_attrs["outcome"] == "withdrawn"
    assert count_trained(study) == (0, 1)  # the withdrawn trial holds no slot
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].user_attrs == {"seed_preset": "bin_mobilenet_sp"}
    third = study.ask()  # the queued preset comes back, with its parameters
    assert third.user_attrs["seed_preset"] == "bin_mobilenet_sp"


@pytest.mark.parametrize("target", [1, 5])
def test_concurrent_workers_finish_exactly_the_target(tmp_path, settings, monkeypatch, fake_class, target):
    """Six workers started in the same instant on one SQLite study (threads, so the fake proxy
    is shared): exactly ``target`` trials train, none twice."""
    fake = fake_class()
    lock = threading.Lock()

    def slow_fake(*a, **k):
        time.sleep(0.02)
        with lock:
            return fake(*a, **k)

    monkeypatch.setattr("nas.objective.evaluate", slow_fake)
    storage = default_storage(tmp_path)
    open_study(storage, "s", settings)
    cfg = LoopConfig(storage, "s", settings, None, sampler="random")
    _at_once(6, lambda: run_worker(cfg, target, data=object()))
    study, _ = open_study(storage, "s", settings)
    trained = [t for t in study.trials if t.user_attrs.get("outcome") in ("trained", "pruned")]
    assert len(trained) == target
    assert len(fake.calls) == target and len(set(fake.calls)) == target
    assert not study.get_trials(states=(TrialState.RUNNING,))


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_queued_trial_goes_to_one_worker_only(tmp_path, settings, kind):
    """Seed presets and retried trials are queued (WAITING); workers asking at the same instant
    must never both get the same one (SQLite needs BEGIN IMMEDIATE for that: nas.study)."""
    storage = default_storage(tmp_path) if kind == "sqlite" else f"journal:{tmp_path / 'study.log'}"
    study, _ = open_study(storage, "s", settings)
    for i in range(40):
        study.enqueue_trial({"width": 1.0}, user_attrs={"i": i})
    got: list[int] = []

    def worker(start):
        mine, _ = open_study(storage, "s", settings)
        start.wait()
        while mine.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            t = mine.ask()
            if "i" in t.user_attrs:
                got.append(t.user_attrs["i"])
            mine.tell(t, state=TrialState.FAIL)

    _at_once(6, worker, barrier=True)
    assert sorted(got) == list(range(40))  # each queued trial popped exactly once
