"""Tables from a stored study: one row per trial (trials.csv) and the Pareto front (pareto.csv)."""

from __future__ import annotations

import pandas as pd
from optuna.trial import TrialState

from search_space import NUM_STAGES, ArchConfig
from search_space.space import STAGE_CHOICES

from ..outcomes import Outcome
from ..rungs import front_ranks

__all__ = ["TRIAL_COLUMNS", "choice_columns", "choice_row", "pareto_frame", "trials_frame"]

TRIAL_COLUMNS = [
    "number",
    "state",
    "outcome",
    "arch",
    "seed_preset",
    "ops",
    "fp_macs",
    "binary_macs",
    "params",
    "size_bytes",
    "top1",
    "epochs_done",
    "fidelity",
    "seconds",
    "duplicate_of",
    "fail_reason",
    "retry_of",
    "retries",
    "curve",
    "top1_seeds",
    "top1_sd",
    "screen_by",
    "screen_score",
    "screen_place",
    "screen_prior",
    "machine",
    "node",
]


def choice_columns() -> list[str]:
    return ["width", "depth"] + [f"s{i}.{c}" for i in range(NUM_STAGES) for c in STAGE_CHOICES]


def choice_row(arch: ArchConfig | str) -> dict:
    """``width``, ``depth`` and every stage choice as ``s<i>.<choice>`` (the :func:`choice_columns`)."""
    a = ArchConfig.decode(arch) if isinstance(arch, str) else arch
    row = {"width": a.width, "depth": a.depth}
    for i, s in enumerate(a.stages):
        for c in STAGE_CHOICES:
            row[f"s{i}.{c}"] = getattr(s, c)
    return row


def trials_frame(study) -> pd.DataFrame:
    """Every trial that got as far as an architecture, in trial order, with every choice as a column.

    ``top1`` is the proxy validation top-1 at the epochs reached (``epochs_done``); for a
    pruned trial that is its last rung, not the full fidelity.
    """
    rows = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        if "arch" not in a or t.state in (TrialState.WAITING,):
            continue
        row = {"number": t.number, "state": t.state.name}
        for key in TRIAL_COLUMNS[2:]:
            row[key] = a.get(key)
        if row["outcome"] is None and t.state == TrialState.RUNNING:
            row["outcome"] = "running"
        for key in ("curve", "top1_seeds"):
            if row[key] is not None:
                row[key] = " ".join(f"{v:.4f}" for v in row[key])
        row.update(choice_row(a["arch"]))
        rows.append(row)
    df = pd.DataFrame(rows, columns=TRIAL_COLUMNS + choice_columns())
    for col in ("top1", "ops", "seconds", "fp_macs", "binary_macs", "top1_sd", "screen_score"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def pareto_frame(trials: pd.DataFrame, budget: float | None = None) -> pd.DataFrame:
    """The non-dominated architectures (max top-1, min OPs) among fully trained trials within
    ``budget``, one row per architecture, sorted by OPs."""
    done = trials[(trials["outcome"] == Outcome.TRAINED) & trials["top1"].notna()]
    if budget is not None:
        done = done[done["ops"] <= budget]
    done = done.drop_duplicates("arch")
    if done.empty:
        return done.assign(front=[])
    ranks = front_ranks(list(zip(done["top1"], done["ops"], strict=True)))
    front = done[[r == 0 for r in ranks]].sort_values(["ops", "top1"], ascending=[True, False])
    return front.reset_index(drop=True)
