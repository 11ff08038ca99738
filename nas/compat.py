"""Every use of Optuna's and Ray Tune's private API, in one place: an upgrade of either touches
this file only. Each function says what it reaches into and why the public API does not do."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = [
    "cached_trials",
    "fixed_params",
    "ray_completed",
    "ray_trials",
    "searcher_study",
    "set_frozen_user_attr",
    "set_ray_completed",
    "storage",
    "trial_id",
    "trial_state",
]


def storage(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The study's storage object (Ray's OptunaSearch takes a storage, not a URL)."""
    return study._storage


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of a trial (unique across studies, unlike ``number``)."""
    return trial._trial_id


def trial_state(study: optuna.Study, trial: optuna.Trial) -> TrialState:
    """The stored state of a live trial, read from the storage (a ``Trial`` does not carry it)."""
    return study._storage.get_trial(trial._trial_id).state


def fixed_params(study: optuna.Study, trial: optuna.Trial | FrozenTrial) -> dict[str, Any] | None:
    """The parameters a trial was enqueued with (``enqueue_trial``), if any."""
    return study._storage.get_trial_system_attrs(trial._trial_id).get("fixed_params")


def set_frozen_user_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """Set a user attribute of a trial this process does not own (a stale trial: only its
    ``FrozenTrial`` is at hand)."""
    study._storage.set_trial_user_attr(trial._trial_id, key, value)


def cached_trials(study: optuna.Study, states: tuple[TrialState, ...]) -> list[FrozenTrial]:
    """The study's trials from the storage's cache (samplers call this on every draw;
    ``get_trials`` would read the database each time)."""
    return study._get_trials(deepcopy=False, states=states, use_cache=True)


def searcher_study(searcher: Any) -> optuna.Study:
    """The Optuna study inside Ray Tune's ``OptunaSearch``."""
    return searcher._ot_study


def ray_trials(searcher: Any) -> dict[str, optuna.Trial]:
    """``OptunaSearch``'s map from Ray trial ids to the Optuna trials it asked (the searcher's own
    dict: an entry added here is seen by the searcher)."""
    return searcher._ot_trials


def ray_completed(searcher: Any) -> set[str]:
    """The Ray trial ids ``OptunaSearch`` has completed (its own set)."""
    return searcher._completed_trials


def set_ray_completed(searcher: Any, ids: set[str]) -> None:
    """Replace that set (on restore from a Ray checkpoint)."""
    searcher._completed_trials = set(ids)
