"""Define-by-run adapter: an Optuna trial suggests an :class:`ArchConfig` of a :class:`SearchSpace`.

Parameter names follow :meth:`SearchSpace.choices`: ``width``, ``depth`` and ``s<i>.<choice>``
(``all.<choice>`` in a space whose stages are tied). ``expansion`` is conditional: suggested
only for a stage whose topology is not ``cascade`` (a cascade block has no expansion).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optuna.distributions import CategoricalDistribution

from search_space import NUM_STAGES, ArchConfig, SearchSpace, StageConfig
from search_space.space import STAGE_CHOICES

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

__all__ = ["answer", "arch_from_params", "arch_params", "suggest_arch"]


def _prefixes(space: SearchSpace) -> list[str]:
    return [f"s{i}." for i in range(NUM_STAGES)] if space.per_stage else ["all."]


def suggest_arch(trial: Any, space: SearchSpace) -> ArchConfig:
    """Ask ``trial`` (an ``optuna.Trial``) for every choice of ``space``; return the architecture."""
    choices = space.choices()
    params: dict[str, Any] = {
        "width": trial.suggest_categorical("width", choices["width"]),
        "depth": trial.suggest_categorical("depth", choices["depth"]),
    }
    for p in _prefixes(space):
        for name in STAGE_CHOICES:
            if name == "expansion" and params[p + "topology"] == "cascade":
                continue
            params[p + name] = trial.suggest_categorical(p + name, choices[p + name])
    return arch_from_params(params, space)


def arch_from_params(params: dict[str, Any], space: SearchSpace) -> ArchConfig:
    """The architecture that ``params`` (as :func:`suggest_arch` names them) describe."""
    stages = []
    for p in _prefixes(space):
        kw = {name: params[p + name] for name in STAGE_CHOICES if p + name in params}
        if kw.get("topology") == "cascade":
            kw.pop("expansion", None)
        stages.append(StageConfig(**kw))
    if not space.per_stage:
        stages *= NUM_STAGES
    return ArchConfig(tuple(stages), params["width"], params["depth"])


def arch_params(arch: ArchConfig, space: SearchSpace) -> dict[str, Any]:
    """The parameters under which :func:`suggest_arch` yields ``arch`` (for enqueuing a preset).

    Raises ``ValueError`` if ``arch`` is not in ``space``.
    """
    if not space.contains(arch):
        raise ValueError(f"architecture {arch.encode()!r} is not in the search space")
    params: dict[str, Any] = {"width": arch.width, "depth": arch.depth}
    stages = arch.stages if space.per_stage else [max(arch.stages, key=lambda s: s.k)]
    for p, s in zip(_prefixes(space), stages, strict=True):
        for name in STAGE_CHOICES:
            value = getattr(s, name)
            if name == "expansion" and s.topology == "cascade":
                continue
            params[p + name] = value
    return params


def answer(params: dict[str, Any], fallback: BaseSampler, study, trial, param_name: str, distribution) -> Any:
    """A parameter of a trial whose whole architecture was chosen at once (``params``); a parameter that is
    not an architecture choice (or a value outside its distribution) goes to ``fallback``."""
    if param_name in params and isinstance(distribution, CategoricalDistribution):
        value = params[param_name]
        if value in distribution.choices:
            return value
    return fallback.sample_independent(study, trial, param_name, distribution)
