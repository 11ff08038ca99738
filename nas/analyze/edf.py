"""Design-space analysis in the manner of pycls (Radosavovic et al., 2019-2020): the empirical
distribution function (EDF) of the error of architectures drawn at random within a budget, split by
the value of each design choice.

A uniform-space architecture has one value per stage choice. A per-stage architecture's value of a
stage choice is the one at least 3 of its 5 stages take, else ``mixed``. Each value's errors are
compared with the errors of every other architecture of the same space (:func:`compare_samples`:
KS statistic, difference in medians with a bootstrap interval): a negative median difference
means that value gives lower error.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from search_space import NUM_STAGES, ArchConfig, SearchSpace, analytic_cost

from .stats import compare_samples

__all__ = ["CHOICES", "SPACES", "STATS_COLUMNS", "choice_values", "draw_archs", "edf_curves", "edf_stats"]

SPACES = {"uniform": False, "per-stage": True}  # name -> SearchSpace(per_stage=...)
STAGE_CHOICES = ("topology", "placement", "k", "expansion", "activation", "binary_scope")
CHOICES = (*STAGE_CHOICES, "width", "depth")
MAJORITY = NUM_STAGES // 2 + 1


EMPTY_DRAWS = 20_000  # draws without a single fit before a budget is called too small


def draw_archs(space_name: str, n: int, budget: float, seed: int, max_draws: int = 1_000_000) -> list[ArchConfig]:
    """``n`` distinct architectures of the space drawn uniformly at random among those within ``budget``
    (rejection sampling on the analytic OPs, as the search's feasible sampler does)."""
    space = SearchSpace(per_stage=SPACES[space_name])
    rng = np.random.default_rng([seed, list(SPACES).index(space_name)])
    seen: dict[str, ArchConfig] = {}
    for draw in range(1, max_draws + 1):
        arch = space.sample(rng)
        if analytic_cost(arch).ops() <= budget:
            seen.setdefault(arch.encode(), arch)
            if len(seen) == n:
                return list(seen.values())
        elif not seen and draw == EMPTY_DRAWS:  # seconds, not minutes, to say a budget is too small
            raise ValueError(f"--budget: no architecture of the {space_name} space fit {budget / 1e6:g}M OPs in"
                             f" {EMPTY_DRAWS} draws (use a larger --budget)")
    raise ValueError(f"--n: only {len(seen)} distinct architectures of the {space_name} space fit the budget in"
                     f" {max_draws} draws (use a smaller --n or a larger --budget)")


def choice_values(arch: ArchConfig) -> dict[str, str]:
    """The value of every choice of ``arch`` (strings; a stage choice: its majority value, or ``mixed``)."""
    out = {"width": f"{arch.width:g}", "depth": str(arch.depth)}
    for c in STAGE_CHOICES:
        value, count = Counter(_text(getattr(s, c)) for s in arch.stages).most_common(1)[0]
        out[c] = value if count >= MAJORITY else "mixed"
    return out


def _text(value) -> str:
    return "n/a" if value is None else str(value)  # expansion of a cascade stage: not applicable


def edf_curves(archs: pd.DataFrame) -> pd.DataFrame:
    """The EDF of ``error`` per (space, choice, value): rows ``space, choice, value, n, error, cdf``
    (one per architecture, errors sorted; cdf = share of that value's architectures with error <= it)."""
    rows = []
    for space, choice in _pairs(archs):
        sub = archs[archs["space"] == space]
        for value, g in sub.groupby(choice, sort=True):
            errors = np.sort(g["error"].dropna().to_numpy(dtype=float))
            n = len(errors)
            rows += [{"space": space, "choice": choice, "value": value, "n": n, "error": e, "cdf": (i + 1) / n}
                     for i, e in enumerate(errors)]
    return pd.DataFrame(rows, columns=["space", "choice", "value", "n", "error", "cdf"])


STATS_COLUMNS = ["space", "choice", "value", "n", "n_rest", "ks", "ks_p", "median_diff", "median_diff_low",
                 "median_diff_high"]


def edf_stats(archs: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """Per (space, choice, value): that value's errors against every other architecture's of the space."""
    rows = []
    for space, choice in _pairs(archs):
        sub = archs[(archs["space"] == space) & archs["error"].notna()]
        for value, g in sub.groupby(choice, sort=True):
            rest = sub.loc[sub.index.difference(g.index), "error"]
            rows.append({"space": space, "choice": choice, "value": value,
                         **compare_samples(g["error"], rest, resamples=resamples)})
    return pd.DataFrame(rows, columns=STATS_COLUMNS)  # the header even with no runs yet


def _pairs(archs: pd.DataFrame) -> list[tuple[str, str]]:
    """(space, choice) in the order the spaces appear, choices in CHOICES order."""
    return [(space, c) for space in dict.fromkeys(archs["space"]) for c in CHOICES if c in archs.columns]
