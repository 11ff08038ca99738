"""The seed noise of a proxy: how far the validation top-1 of one architecture moves when only the
training seed changes (initialisation and batch order; same images), measured per fidelity.

``SEED_NOISE`` holds the figures measured by hand (pooled within-architecture standard deviation
over architectures trained with several seeds; the command that measured each is in its
``source``). :func:`pooled_sd` computes such a figure from any runs; the search uses a study's own
multi-seed trials first (``--seeds N``) and this table for the fidelity otherwise; a fidelity
with no figure has no uncertainty to show, and the report says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..scoring.fidelity import Fidelity
from .evaluators import is_diverged

__all__ = ["NOISE_COLUMNS", "SEED_NOISE", "SeedNoise", "compare_noise", "noise_from_runs", "pooled_sd", "seed_noise"]

NOISE_COLUMNS = ["fidelity", "seed_sd", "archs", "runs"]


@dataclass(frozen=True)
class SeedNoise:
    """A seed standard deviation of validation top-1 (a fraction, not points) at one fidelity."""

    sd: float
    archs: int  # architectures it is pooled over
    runs: int  # training runs behind it
    source: str  # where and how it was measured

    def describe(self) -> str:
        return (f"seed SD {100 * self.sd:.2f} points, pooled over {self.archs} architectures"
                f" ({self.runs} runs; {self.source})")


def pooled_sd(groups: Iterable[Sequence[float]]) -> tuple[float, int, int] | None:
    """The pooled within-group standard deviation of ``groups`` (one group: one architecture's
    per-seed scores), ``sqrt(sum((n_i - 1) s_i^2) / sum(n_i - 1))``, with the number of groups of
    two or more and of runs in them; None when no group has two finite values."""
    ss = dof = archs = runs = 0
    for g in groups:
        v = np.asarray([x for x in g if x is not None and math.isfinite(x)], dtype=float)
        if len(v) < 2:
            continue
        ss += float(((v - v.mean()) ** 2).sum())
        dof += len(v) - 1
        archs += 1
        runs += len(v)
    return (math.sqrt(ss / dof), archs, runs) if dof else None


def compare_noise(pairs: Iterable[Sequence[float]], groups: Iterable[Sequence[float]]) -> dict | None:
    """Replay noise next to seed noise. ``pairs``: one architecture's two runs that differ in one
    thing only (e.g. the CPU thread count, same seed); ``groups``: per-seed runs of architectures.
    Both SDs are :func:`pooled_sd` figures (for a pair, the difference's SD over sqrt 2), the replay
    SD with a chi-square 95% interval, their ratio with a two-sided F-test p-value (equal variances).
    None when either side has nothing to pool."""
    pairs = [p for p in pairs if len(p) == 2 and all(x is not None and math.isfinite(x) for x in p)]
    replay, seed = pooled_sd(pairs), pooled_sd(groups)
    if replay is None or seed is None:
        return None
    (r_sd, n, _), (s_sd, archs, runs) = replay, seed
    s_df = runs - archs
    ratio = (r_sd / s_sd) ** 2 if s_sd > 0 else math.inf
    diffs = np.array([b - a for a, b in pairs])
    return {"replay_sd": r_sd, "replay_df": n,
            "replay_sd_ci95": [math.sqrt(n * r_sd**2 / stats.chi2.ppf(q, n)) for q in (0.975, 0.025)],
            "mean_diff": float(diffs.mean()), "max_abs_diff": float(np.abs(diffs).max()),
            "seed_sd": s_sd, "seed_df": s_df, "sd_ratio": math.sqrt(ratio),
            "f_test_p": float(min(1.0, 2 * min(stats.f.cdf(ratio, n, s_df), stats.f.sf(ratio, n, s_df))))}


def noise_from_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Pooled seed SD of validation top-1 per fidelity, from a run cache (``proxies.calibration.fidelity_runs``:
    ``kind, fidelity, seed, arch, val_top1, diverged``): training runs that did not diverge, grouped by
    architecture; a fidelity with no architecture run twice is left out."""
    diverged = runs["diverged"].map(is_diverged).astype(bool)  # a CSV's text, or NaN where not recorded
    train = runs[(runs["kind"] == "train") & ~diverged & runs["val_top1"].notna()]
    rows = []
    for fidelity, g in train.groupby("fidelity", sort=True):
        pooled = pooled_sd(list(g.groupby("arch")["val_top1"].apply(list)))
        if pooled is not None:
            rows.append({"fidelity": fidelity, "seed_sd": pooled[0], "archs": pooled[1], "runs": pooled[2]})
    return pd.DataFrame(rows, columns=NOISE_COLUMNS)


# Fidelity.key() -> measured figure. Filled from the commands in each source; see docs/calibration.md.
SEED_NOISE: dict[str, SeedNoise] = {
    # the default fidelity (2 epochs x 3,000 images): seeds 0-2 of 44 of the papers' architectures,
    # 129 runs (`benchmarks/fidelity.py` and `nas.analyze claims` on one cache; 2026-11-29, partial)
    "e2-n3000-r32-ws1-b32-v2000": SeedNoise(
        0.016220206473384232, 44, 129,
        "results/calibration/seed-noise.csv, from benchmarks/fidelity.py --evaluators default-mean3"),
}


def seed_noise(fidelity: Fidelity | str) -> SeedNoise | None:
    """The measured seed noise at ``fidelity`` (a Fidelity or its key), or None if never measured."""
    key = fidelity if isinstance(fidelity, str) else fidelity.key()
    return SEED_NOISE.get(key)
