"""Do the seed papers' claims hold, and how do the design choices shape a budget's design space
(``python -m nas.analyze claims|edf``), what searches without the seed presets found
(``python -m nas.analyze rediscovery``), and do a search's finds hold at seeds it never saw
(``python -m nas.analyze confirm``)."""

from proxies.stats import compare_samples, seed_interval, seed_p_value

from .claims import CLAIM_COLUMNS, CLAIMS, Claim, claim_archs, claims_table, match_width
from .cli import main
from .confirm import CONFIRM_COLUMNS, CONFIRM_VERDICTS, confirm_markdown, confirm_table, fresh_seeds
from .edf import (
    CHOICES,
    choice_values,
    draw_archs,
    edf_curves,
    edf_markdown,
    edf_shares,
    edf_stats,
    ops_residuals,
)
from .plot import EdfPlotData, draw_edf, edf_plot_data
from .random_baseline import best_of_k_below, best_of_k_median, random_baseline, search_cost_k
from .rediscovery import rediscovery_markdown, rediscovery_tables
from .stats import VERDICTS, fdr_verdicts, verdict

__all__ = [
    "CHOICES",
    "CLAIMS",
    "CLAIM_COLUMNS",
    "CONFIRM_COLUMNS",
    "CONFIRM_VERDICTS",
    "Claim",
    "EdfPlotData",
    "VERDICTS",
    "best_of_k_below",
    "best_of_k_median",
    "choice_values",
    "claim_archs",
    "claims_table",
    "compare_samples",
    "confirm_markdown",
    "confirm_table",
    "draw_archs",
    "draw_edf",
    "edf_curves",
    "edf_markdown",
    "edf_plot_data",
    "edf_shares",
    "edf_stats",
    "fdr_verdicts",
    "fresh_seeds",
    "main",
    "match_width",
    "ops_residuals",
    "random_baseline",
    "rediscovery_markdown",
    "rediscovery_tables",
    "search_cost_k",
    "seed_interval",
    "seed_p_value",
    "verdict",
]
