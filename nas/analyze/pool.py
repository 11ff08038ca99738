"""The tabular benchmark: every committed proxy result at one fidelity, every seed of each architecture.

Search strategies are replayed over it (:mod:`nas.analyze.strategies`) in seconds instead of
CPU-days. A result is one training of one architecture, keyed by its data seed and training seed
(the rank-fidelity run cache trains on data seed 0 with the run's seed; a search and ``nas.analyze
confirm`` use their seed for both); the same key found in two sources is one result, kept once. The
sources, under ``results/``:

* the rank-fidelity run cache (``calibration/fidelity-runs.csv``: the reference and the papers'
  architectures and the EDF draws, at several seeds);
* the trials a committed search trained to full fidelity (``*/trials.csv``; its seed from the study);
* the confirm runs (``*/runs-s<seed>.csv``) and the fresh-seed runs of ``rediscovery/confirm``.

The reference set's architectures are left out (``exclude``): it is the yardstick the evaluators are
measured against, never data a default is chosen on.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from search_space import ArchConfig, SearchSpace, analytic_cost

from ..proposer import features

__all__ = ["POOL_COLUMNS", "Pool", "load_results"]

POOL_COLUMNS = ["arch", "data_seed", "train_seed", "top1", "source"]


def _study_seed(folder: Path) -> int | None:
    db = folder / "study.db"
    if not db.is_file():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT value_json FROM study_user_attributes WHERE key = 'binas:seed'").fetchone()
    finally:
        con.close()
    return None if row is None else int(json.loads(row[0]))


def _runs(path: Path, fidelity: str, data_seed: int | None) -> pd.DataFrame:
    r = pd.read_csv(path, dtype={"arch": str})
    r = r[
        (r["kind"] == "train")
        & (r["fidelity"] == fidelity)
        & r["val_top1"].notna()
        & ~r["diverged"].fillna(False).astype(bool)
    ]
    seed = r["seed"].astype(int)
    return pd.DataFrame(
        {
            "arch": r["arch"],
            "data_seed": seed if data_seed is None else data_seed,
            "train_seed": seed,
            "top1": r["val_top1"].astype(float),
            "source": str(path),
        }
    )


def load_results(
    results: Path, fidelity: str, search_seeds: dict[str, int] | None = None, exclude: set[str] = frozenset()
) -> pd.DataFrame:
    """Every result at ``fidelity`` under ``results`` (:data:`POOL_COLUMNS`), one row per (arch, data seed,
    training seed). ``search_seeds`` gives the seed of a search folder whose study does not record it
    (folders with neither are skipped: their data seed is unknown)."""
    frames = []
    cache = results / "calibration" / "fidelity-runs.csv"
    if cache.is_file():
        frames.append(_runs(cache, fidelity, data_seed=0))
    for trials in sorted(results.glob("*/trials.csv")):
        folder = trials.parent
        seed = _study_seed(folder)
        seed = (search_seeds or {}).get(folder.name, seed) if seed is None else seed
        if seed is None:
            continue
        t = pd.read_csv(trials, dtype={"arch": str})
        t = t[(t["outcome"] == "trained") & (t["fidelity"] == fidelity) & t["top1"].notna()]
        frames.append(
            pd.DataFrame(
                {
                    "arch": t["arch"],
                    "data_seed": seed,
                    "train_seed": seed,
                    "top1": t["top1"].astype(float),
                    "source": str(trials),
                }
            )
        )
    for runs in sorted(results.glob("*/runs-s*.csv")):
        frames.append(_runs(runs, fidelity, data_seed=None))
    for path in sorted(results.glob("*/confirm/*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        if d.get("fidelity") == fidelity and not d.get("diverged") and d.get("val_top1") is not None:
            frames.append(
                pd.DataFrame(
                    [
                        {
                            "arch": d["arch"],
                            "data_seed": int(d["seed"]),
                            "train_seed": int(d["seed"]),
                            "top1": float(d["val_top1"]),
                            "source": str(path),
                        }
                    ]
                )
            )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=POOL_COLUMNS)
    out["arch"] = [ArchConfig.decode(a).encode() for a in out["arch"]]  # canonical: one key per network
    out = out[~out["arch"].isin(exclude)]
    return out.drop_duplicates(["arch", "data_seed", "train_seed"]).reset_index(drop=True)[POOL_COLUMNS]


@dataclass
class Pool:
    """The architectures of a results table with their OPs, features and every recorded top-1."""

    archs: list[str]
    ops: np.ndarray
    x: np.ndarray  # :func:`nas.proposer.features`, one row per architecture
    runs: list[np.ndarray]  # every recorded top-1 of each architecture
    mean: np.ndarray  # their mean: the architecture's value when the replay scores what a strategy returns

    @classmethod
    def from_results(cls, table: pd.DataFrame, space: SearchSpace | None = None) -> Pool:
        """The pool of ``table``'s architectures that are points of ``space`` (default: the search's
        per-stage space; the claims' width-matched architectures, for one, are not)."""
        space = space or SearchSpace()
        groups = table.groupby("arch", sort=True)["top1"]
        archs = [a for a in groups.groups if space.contains(ArchConfig.decode(a))]
        runs = [groups.get_group(a).to_numpy(dtype=float) for a in archs]
        return cls(
            archs=archs,
            ops=np.array([analytic_cost(ArchConfig.decode(a)).ops() for a in archs]),
            x=np.stack([features(a) for a in archs]),
            runs=runs,
            mean=np.array([r.mean() for r in runs]),
        )

    def __len__(self) -> int:
        return len(self.archs)
