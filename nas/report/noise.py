"""The uncertainty of each trained architecture's proxy top-1, and whether a lead is within it.

The seed noise of a study (:func:`study_noise`) is pooled over its multi-seed trials (``--seeds
N``) when there are any, else the figure measured by hand for its fidelity
(:data:`proxies.SEED_NOISE`), else unknown (the report says so). Each trained architecture shows
``top1_sd``: its own seeds' standard deviation when it was trained with several, else the study's
noise. Its ``top1_se``, the standard error of the mean top-1 it is ranked on, is the study's noise
over ``sqrt(N)``: a pooled SD has many degrees of freedom, where one architecture's two seeds have
one (two equal top-1s would claim no noise at all). Only when no pooled figure exists does an
architecture's own spread stand in.

Two architectures' top-1 differ *within the noise* when the difference is smaller than 1.96
standard errors of the difference, ``sqrt(se_a^2 + se_b^2)`` (a two-sided 95% normal interval
that contains 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from proxies import pooled_sd, seed_noise

__all__ = ["Z95", "StudyNoise", "add_uncertainty", "lead_within_noise", "study_noise"]

Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)


@dataclass(frozen=True)
class StudyNoise:
    """The seed SD used for single-seed trials, and where it comes from (None: not measured)."""

    sd: float | None
    source: str


def _seeds(value) -> list[float]:
    if isinstance(value, list | tuple):
        return [float(v) for v in value]
    if isinstance(value, str) and value.strip():
        return [float(v) for v in value.split()]
    return []


def study_noise(trials: pd.DataFrame, fidelity: str) -> StudyNoise:
    """The seed noise of a study at ``fidelity``: its own multi-seed trials, else the measured figure."""
    groups = [_seeds(v) for v in trials.get("top1_seeds", pd.Series(dtype=object)).dropna()]
    own = pooled_sd(groups)
    if own is not None:
        sd, archs, runs = own
        return StudyNoise(
            sd,
            f"seed SD {100 * sd:.2f} points, pooled over this search's {archs} architectures"
            f" trained with several seeds ({runs} runs)",
        )
    measured = seed_noise(fidelity)
    if measured is not None:
        return StudyNoise(measured.sd, measured.describe())
    return StudyNoise(
        None, f"the seed noise at fidelity {fidelity} is not measured (search with --seeds 2 or more to measure it)"
    )


def add_uncertainty(trials: pd.DataFrame, noise: StudyNoise) -> pd.DataFrame:
    """``trials`` with ``top1_sd`` (own seeds' SD, else the study noise) and ``top1_se`` (of the mean:
    the study noise over sqrt(seeds), else the own SD over sqrt(seeds))."""
    out = trials.copy()
    sds, ses = [], []
    for top1, seeds, own in zip(
        out["top1"], out.get("top1_seeds", [None] * len(out)), out.get("top1_sd", [None] * len(out)), strict=True
    ):
        n = len(_seeds(seeds))
        own = float(own) if own is not None and not pd.isna(own) and n >= 2 else None
        sd = own if own is not None else noise.sd
        se_sd = noise.sd if noise.sd is not None else own
        if pd.isna(top1):
            sd = se_sd = None
        sds.append(sd)
        ses.append(se_sd / math.sqrt(max(n, 1)) if se_sd is not None else None)
    out["top1_sd"] = pd.to_numeric(pd.Series(sds, index=out.index, dtype=object), errors="coerce")
    out["top1_se"] = pd.to_numeric(pd.Series(ses, index=out.index, dtype=object), errors="coerce")
    return out


def lead_within_noise(top1_a: float, se_a: float | None, top1_b: float, se_b: float | None) -> bool | None:
    """Whether ``a``'s lead over ``b`` is within the noise (None: no uncertainty known)."""
    if se_a is None or se_b is None or pd.isna(se_a) or pd.isna(se_b):
        return None
    return abs(top1_a - top1_b) < Z95 * math.hypot(se_a, se_b)
