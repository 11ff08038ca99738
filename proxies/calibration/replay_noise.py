"""Replay noise: the same architecture, seed and data trained with a different number of CPU threads,
next to the seed-to-seed noise of the same architectures.

    python benchmarks/replay_noise.py --data-dir ../shared/data/cifar10 [--archs 8] [--threads 1,2]
        [--runs results/calibration/fidelity-runs.csv] [--out results/calibration/replay] [--report-only]

Another machine runs the same float operations in another order (thread count, vector width, BLAS
and oneDNN kernels), and a binary network amplifies the last bits through its sign functions, so a
seed fixes a run on one machine only. A different thread count on this machine is such a change,
measurable here: each architecture is trained at the default fidelity with seed 0 once per
``--threads`` value (runs cached in ``OUT/runs-threads<T>.csv``, resumable; Ctrl-C keeps every
finished run). The memory format is another such change: the cached runs of ``--runs`` were trained
in NCHW, so run this with ``BINAS_CPU_FORMAT=nchw`` for the 1-thread runs to repeat them exactly.

The architectures are the ``--archs`` cheapest (by their cached CPU-seconds) of those with at least
3 seeds at the default fidelity in ``--runs`` (the papers' rows and the claims' architectures): the
cheap end of the space, which keeps the benchmark short. Their seed SD comes from those cached runs.

Writes ``OUT/replay-noise.csv`` (per architecture: top-1 at each thread count, the cached seed-0
top-1, the difference, the seed SD) and ``OUT/replay-noise.json`` (pooled replay SD, the
difference SD over sqrt 2, with its chi-square 95% interval; the pooled seed SD of the same
architectures; their ratio with an F-test p-value; how many thread-count-1 runs repeat the cached
seed-0 run exactly) and prints both.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from search_space.cli import run_cli

from ..scoring.fidelity import FIDELITIES
from .evaluators import RunSpec, is_diverged
from .fidelity_runs import load_runs, run_cached
from .noise import compare_noise

DEFAULT = FIDELITIES["default"]


def pick_archs(runs: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` cheapest architectures with at least 3 seeds at the default fidelity."""
    train = _default_train(runs)
    by = train.groupby("arch").agg(seeds=("seed", "nunique"), seconds=("cpu_seconds", "mean"))
    return by[by["seeds"] >= 3].sort_values(["seconds"]).index[:n].tolist()


def _default_train(runs: pd.DataFrame) -> pd.DataFrame:
    train = runs[(runs["kind"] == "train") & (runs["fidelity"] == DEFAULT.key())]
    return train[~train["diverged"].map(is_diverged) & train["val_top1"].notna()]


def replay_table(archs: list[str], by_threads: dict[int, pd.DataFrame], cached: pd.DataFrame) -> pd.DataFrame:
    """One row per architecture: top-1 at each thread count, the cached seed 0, the seed SD."""
    cache = _default_train(cached)
    rows = []
    for arch in archs:
        row = {"arch": arch}
        for t, runs in by_threads.items():
            mine = _default_train(runs)
            mine = mine[(mine["arch"] == arch) & (mine["seed"] == 0)]
            row[f"top1_threads{t}"] = float(mine["val_top1"].iloc[0]) if len(mine) else np.nan
        seeds = cache[cache["arch"] == arch].groupby("seed")["val_top1"].first()
        row["cached_seed0"] = float(seeds.get(0, np.nan))
        row["seed_sd"], row["seeds"], row["seed_runs"] = float(seeds.std(ddof=1)), int(len(seeds)), list(seeds)
        rows.append(row)
    table = pd.DataFrame(rows)
    a, b = (f"top1_threads{t}" for t in list(by_threads)[:2])
    table["diff"] = table[b] - table[a]
    return table


def summary(table: pd.DataFrame, threads: list[int]) -> dict:
    """:func:`proxies.calibration.noise.compare_noise` over the architectures done at both thread counts, and how
    many runs at the first thread count repeat the cached seed-0 run exactly."""
    a, b = (f"top1_threads{t}" for t in threads)
    done = table[table["diff"].notna()]
    out: dict = {"threads": threads, "archs": len(done), "fidelity": DEFAULT.key()}
    noise = compare_noise(done[[a, b]].to_numpy().tolist(), list(done["seed_runs"]))
    out.update(noise or {})
    same = done[done["cached_seed0"].notna()]
    out["repeats_cache_exactly"] = f"{int((same[a] == same['cached_seed0']).sum())} of {len(same)}"
    return out


def main(argv: list[str] | None = None) -> int:
    """A bad value (``--data-dir``, ``BINAS_CPU_FORMAT``, a foreign cache) is one line and exit code 2."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help="CIFAR-10 (default $NAS_DATA_DIR)")
    p.add_argument("--archs", type=int, default=8, help="architectures (default 8)")
    p.add_argument("--threads", default="1,2", help="two thread counts (default 1,2)")
    p.add_argument("--runs", type=Path, default=Path("results/calibration/fidelity-runs.csv"),
                   help="the cache with the seeds (default %(default)s)")
    p.add_argument("--out", type=Path, default=Path("results/calibration/replay"))
    p.add_argument("--report-only", action="store_true", help="train nothing: the tables from the caches")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        threads = [int(t) for t in args.threads.split(",")]
        if len(threads) != 2 or min(threads) < 1 or threads[0] == threads[1]:
            raise ValueError
    except ValueError:
        print(f"error: --threads: need two different thread counts like 1,2, got {args.threads!r}", file=sys.stderr)
        return 2
    if args.archs < 2:
        print(f"error: --archs: need at least 2, got {args.archs}", file=sys.stderr)
        return 2
    if not args.runs.is_file():
        print(f"error: --runs: no run cache at {str(args.runs)!r}", file=sys.stderr)
        return 2
    cached = load_runs(args.runs, "--runs")
    archs = pick_archs(cached, args.archs)
    spec = RunSpec("train", DEFAULT, 0)
    by_threads = {}
    for t in threads:
        path = args.out / f"runs-threads{t}.csv"
        if args.report_only:
            by_threads[t] = load_runs(path, "--out") if path.is_file() else cached.iloc[0:0]
        else:
            by_threads[t] = run_cached([spec], archs, path, data_dir=args.data_dir, threads=t,
                                       progress=not args.quiet)
    table = replay_table(archs, by_threads, cached)
    result = summary(table, threads)
    args.out.mkdir(parents=True, exist_ok=True)
    table.drop(columns="seed_runs").to_csv(args.out / "replay-noise.csv", index=False)
    (args.out / "replay-noise.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table.drop(columns="seed_runs").to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(json.dumps(result, indent=2))
    return 0
