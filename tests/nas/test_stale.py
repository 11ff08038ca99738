"""Crash safety: trials left RUNNING by a dead process are failed and queued again."""

from __future__ import annotations

import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState

from nas import arch_params, open_study
from nas.backends.stale import HOST, Heartbeat, recover_stale
from nas.study import default_storage
from search_space import PRESETS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _running_trial(study, settings, owner, beat, seed=None):
    params = arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)
    study.enqueue_trial(params, user_attrs={"seed_preset": seed} if seed else None)
    t = study.ask()
    from nas.adapter import suggest_arch

    suggest_arch(t, settings.space)
    t.set_user_attr("arch", "x")
    t.set_user_attr("owner", owner)
    t.set_user_attr("heartbeat", beat)
    return t, params


def test_dead_local_owner_is_recovered_at_once(tmp_path, settings):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    t, params = _running_trial(study, settings, f"{HOST}:{_dead_pid()}", time.time(), seed="bin_mobilenet_sp")
    assert recover_stale(study) == 1
    failed, waiting = study.trials
    assert failed.state == TrialState.FAIL and failed.user_attrs["outcome"] == "stale"
    assert waiting.state == TrialState.WAITING and waiting.system_attrs["fixed_params"] == params
    assert waiting.user_attrs == {"seed_preset": "bin_mobilenet_sp", "retry_of": failed.number}
    assert recover_stale(study) == 0


def test_live_or_fresh_trials_are_left_alone(tmp_path, settings):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    _running_trial(study, settings, f"{HOST}:1", time.time())  # pid 1 is alive
    _running_trial(study, settings, "otherhost:123", time.time())  # fresh heartbeat elsewhere
    assert recover_stale(study) == 0
    _running_trial(study, settings, "otherhost:456", time.time() - 3600)  # silent for an hour
    assert recover_stale(study, grace_s=120) == 1


def test_heartbeat_refreshes(tmp_path, settings):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    t = study.ask()
    t.set_user_attr("heartbeat", 0.0)
    with Heartbeat(t, interval=0.05):
        time.sleep(0.3)
    assert study.trials[0].user_attrs["heartbeat"] > time.time() - 5


def test_a_queued_trial_that_died_before_drawing_is_queued_again(tmp_path, settings):
    """Killed between taking a queued trial and suggesting its parameters: the parameters it
    was queued with are queued again (it has none of its own yet)."""
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    params = arch_params(PRESETS["bin_mobilenet_sp"].arch, settings.space)
    study.enqueue_trial(params, user_attrs={"seed_preset": "bin_mobilenet_sp"})
    t = study.ask()
    assert t.params == {}
    t.set_user_attr("owner", f"{HOST}:{_dead_pid()}")
    assert recover_stale(study) == 1
    failed, waiting = study.trials
    assert failed.user_attrs["outcome"] == "stale"
    assert waiting.state == TrialState.WAITING and waiting.system_attrs["fixed_params"] == params
    assert waiting.user_attrs == {"seed_preset": "bin_mobilenet_sp", "retry_of": failed.number}


def test_a_fresh_draw_that_died_before_drawing_is_not_queued(tmp_path, settings):
    study, _ = open_study(default_storage(tmp_path), "s", settings)
    t = study.ask()
    t.set_user_attr("owner", f"{HOST}:{_dead_pid()}")
    assert recover_stale(study) == 1
    assert not study.get_trials(states=(TrialState.WAITING,))  # nothing was drawn, nothing to lose


def test_a_reused_pid_or_a_silent_local_process_is_stale(tmp_path, settings):
    """The owner names one process (host, pid, start time): a live pid that started at another
    time is another process (the pid was reused, e.g. a restarted container). A live local
    owner that has not beaten for the grace period (stopped with Ctrl-Z, hung) is stale too."""
    from nas.backends.stale import _started, owner_id

    study, _ = open_study(default_storage(tmp_path), "s", settings)
    other_start = int(_started(1)) + 1  # pid 1 is alive, but did not start then
    _running_trial(study, settings, f"{HOST}:1:{other_start}", time.time())
    assert recover_stale(study) == 1
    _running_trial(study, settings, f"{HOST}:1", time.time() - 3600)  # alive, silent for an hour
    assert recover_stale(study, grace_s=120) == 1
    _running_trial(study, settings, owner_id(), 0.0)  # ours (another thread): never stale
    assert recover_stale(study, grace_s=1) == 0
