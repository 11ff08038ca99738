"""The controller: budget-constrained multi-objective search (Optuna, or Ray Tune to scale out),
Pareto reports, export and full training. Optuna and Ray are imported only here.

Entry points: ``python -m nas.search``, ``python -m nas.report``, ``python -m nas.export``,
``python -m nas.train`` (not imported by this package, so ``-m`` runs them cleanly).
"""

from .adapter import arch_from_params, arch_params, suggest_arch
from .budget import format_ops, parse_budget, parse_duration
from .objective import OUTCOMES, TrialRunner, find_evaluated
from .outputs import OUTPUT_FILES, report_data, write_outputs
from .plot import ParetoPlotData, pareto_plot_data
from .records import pareto_frame, trials_frame
from .rungs import RungPolicy, front_ranks
from .samplers import SAMPLERS, FeasibleRandomSampler, make_sampler
from .settings import SearchSettings
from .study import enqueue_seed_presets, load_study, open_study

__all__ = [
    "OUTCOMES",
    "OUTPUT_FILES",
    "SAMPLERS",
    "FeasibleRandomSampler",
    "ParetoPlotData",
    "RungPolicy",
    "SearchSettings",
    "TrialRunner",
    "arch_from_params",
    "arch_params",
    "enqueue_seed_presets",
    "find_evaluated",
    "format_ops",
    "front_ranks",
    "load_study",
    "make_sampler",
    "open_study",
    "parse_budget",
    "parse_duration",
    "pareto_frame",
    "pareto_plot_data",
    "report_data",
    "suggest_arch",
    "trials_frame",
    "write_outputs",
]
