"""The controller: budget-constrained multi-objective search (Optuna, or Ray Tune to scale out).

Layout: the controller at the top (``search``, ``cli_args``, ``settings``, ``budget``,
``adapter``, ``samplers``, ``rungs``, ``objective``, ``study``); how trials run in
:mod:`nas.backends` (the Optuna worker loop, Ray Tune, stale-trial recovery); trials.csv,
Pareto plots and report.md in :mod:`nas.report`; export, checkpoints and full training in
:mod:`nas.deploy`, which imports no Optuna or Ray. Optuna and Ray are imported only in ``nas``.

Entry points: ``python -m nas.search``, ``python -m nas.report``, ``python -m nas.export``,
``python -m nas.train``. The names below are imported on first use, so ``python -m nas.train``
does not pay for Optuna.
"""

from __future__ import annotations

from ._lazy import lazy_exports

_EXPORTS = {
    "arch_from_params": "adapter",
    "arch_params": "adapter",
    "suggest_arch": "adapter",
    "format_ops": "budget",
    "parse_budget": "budget",
    "parse_duration": "budget",
    "Outcome": "outcomes",
    "TrialRunner": "objective",
    "OUTPUT_FILES": "report",
    "report_data": "report",
    "write_outputs": "report",
    "ParetoPlotData": "report",
    "pareto_plot_data": "report",
    "pareto_frame": "report",
    "trials_frame": "report",
    "RungPolicy": "rungs",
    "front_ranks": "rungs",
    "SAMPLERS": "samplers",
    "FeasibleRandomSampler": "samplers",
    "make_sampler": "samplers",
    "GuidedSampler": "guided",
    "hypervolume": "proposer",
    "SearchSettings": "settings",
    "enqueue_seed_presets": "study",
    "load_study": "study",
    "open_study": "study",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
