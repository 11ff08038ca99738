"""What a search leaves behind: trials.csv, pareto.csv, the Pareto plot (data computed apart
from drawing), report.md, best_arch.json, progress lines; ``python -m nas.report`` rewrites
them from the stored study."""

from .choices import KEY_CHOICES, KeyChoice, key_choice_rows
from .cli import main
from .outputs import OUTPUT_FILES, report_data, write_outputs
from .plot import ParetoPlotData, draw_pareto, pareto_plot_data, place_labels
from .progress import SearchProgress, study_summary, summary_line
from .records import TRIAL_COLUMNS, choice_columns, pareto_frame, trials_frame

__all__ = [
    "KEY_CHOICES",
    "OUTPUT_FILES",
    "TRIAL_COLUMNS",
    "ParetoPlotData",
    "SearchProgress",
    "choice_columns",
    "KeyChoice",
    "draw_pareto",
    "key_choice_rows",
    "main",
    "pareto_frame",
    "pareto_plot_data",
    "place_labels",
    "report_data",
    "study_summary",
    "summary_line",
    "trials_frame",
    "write_outputs",
]
