"""``python -m nas.analyze strategies``: search strategies replayed over the committed results.

    python -m nas.analyze strategies [--results results] [--budget 50M] [--repeats 500] [--repeats-gp 10]
        [--strategies a,b,...] [--trainings 36] [--jobs 2] [--out results/strategies] [--report-only]

Builds the tabular benchmark (:mod:`nas.analyze.pool`) from every committed result at the default
fidelity outside the reference set, replays each strategy (:mod:`nas.analyze.strategies`) ``--repeats``
times (``gp``, Optuna's GPSampler, minutes per repeat: ``--repeats-gp``), and writes
``strategy-runs.csv`` (every repeat's metrics after each training; the cache: Ctrl-C, then the same
command resumes), ``strategies.csv`` and ``strategies.md`` (:mod:`nas.analyze.replay`), the plot
``strategies.png`` / ``.svg`` and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from proxies import FIDELITIES
from proxies.manifest import Manifest, file_identity
from search_space import ArchConfig
from search_space.cli import int_at_least, make_out_folder
from search_space.files import atomic_write_text

from ..budget import format_ops, parse_budget
from .pool import Pool, load_results
from .replay import RUN_COLUMNS, repeat_metrics, strategy_table
from .strategies import CHANCE, STRATEGIES, half_ids, replay_one

__all__ = ["add_parser", "run"]

SEARCH_SEEDS = {"rediscovery-uniform-s0": 0, "rediscovery-uniform-s1": 1, "rediscovery-per-stage": 0}


def add_parser(sub) -> None:
    s = sub.add_parser("strategies", help="search strategies replayed over the committed results (trains nothing)")
    s.add_argument("--results", type=Path, default=Path("results"), help="the results folder (default %(default)s)")
    s.add_argument(
        "--reference",
        type=Path,
        default=Path("results/reference"),
        help="the reference set (its architectures are left out of the pool)",
    )
    s.add_argument("--budget", default="50M", help="OPs budget (default %(default)s)")
    s.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated (default: all)")
    s.add_argument("--repeats", type=int_at_least(2), default=500, help="repeats per strategy (default 500)")
    s.add_argument("--repeats-gp", type=int_at_least(2), default=10, help="repeats of gp (default 10)")
    s.add_argument("--trainings", type=int_at_least(1), default=36, help="trainings per repeat (default 36)")
    s.add_argument("--jobs", type=int_at_least(1), default=1, help="processes (default 1)")
    s.add_argument("--out", type=Path, default=Path("runs/strategies"), help="output folder (default %(default)s)")
    s.add_argument("--report-only", action="store_true", help="replay nothing: outputs from strategy-runs.csv")
    s.add_argument("--quiet", action="store_true", help="no progress bar")


def _pool(args) -> tuple[Pool, list[Path]]:
    fidelity = FIDELITIES["default"].key()
    ref = pd.read_csv(args.reference / "archs.csv", dtype={"arch": str})["arch"]
    table = load_results(args.results, fidelity, SEARCH_SEEDS, {ArchConfig.decode(a).encode() for a in ref})
    if table.empty:
        raise ValueError(f"--results: no result at fidelity {fidelity} under {str(args.results)!r}")
    return Pool.from_results(table), sorted({Path(s) for s in table["source"]})


_POOL: Pool | None = None


def _init(pool: Pool) -> None:
    global _POOL
    _POOL = pool


def _one(job: tuple[str, int, int, float]) -> list[dict]:
    strategy, repeat, n, budget = job
    trained = replay_one(_POOL, strategy, repeat, n, budget)
    return [
        {"strategy": strategy, "repeat": repeat, **m}
        for m in repeat_metrics(_POOL, half_ids(_POOL, repeat, budget)[0], trained, (CHANCE, budget))
    ]


def run(args: argparse.Namespace) -> int:
    budget = parse_budget(args.budget)
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    for n in names:
        if n not in STRATEGIES:
            raise ValueError(f"--strategies: unknown value {n!r} (choose from {', '.join(STRATEGIES)})")
    pool, sources = _pool(args)
    manifest = Manifest(
        args.out,
        "python -m nas.analyze",
        argv=getattr(args, "argv", None),
        data={"pool_architectures": len(pool), "sources": file_identity(sources)},
    )
    make_out_folder(args.out)
    runs_path = args.out / "strategy-runs.csv"
    runs = pd.read_csv(runs_path, dtype={"arch": str}) if runs_path.is_file() else pd.DataFrame(columns=RUN_COLUMNS)
    if not args.report_only:
        have = set(zip(runs["strategy"], runs["repeat"], strict=True))
        jobs = [
            (s, r, args.trainings, budget)
            for s in names
            for r in range(args.repeats_gp if s == "gp" else args.repeats)
            if (s, r) not in have
        ]
        print(
            f"{len(pool)} architectures in the pool ({int((pool.ops <= budget).sum())} within"
            f" {format_ops(budget)}); {len(jobs)} repeat(s) to replay",
            file=sys.stderr,
        )
        done: list[dict] = []
        try:
            with (
                ProcessPoolExecutor(args.jobs, initializer=_init, initargs=(pool,)) as ex,
                tqdm(total=len(jobs), disable=args.quiet, file=sys.stderr) as bar,
            ):
                for rows in ex.map(_one, jobs, chunksize=4):
                    done += rows
                    bar.update()
                    if len(done) > 20000:
                        runs = pd.concat([runs, pd.DataFrame(done)], ignore_index=True)
                        done = []
                        atomic_write_text(runs_path, runs[RUN_COLUMNS].to_csv(index=False))
        finally:
            if done:
                runs = pd.concat([runs, pd.DataFrame(done)], ignore_index=True)
            atomic_write_text(runs_path, runs[RUN_COLUMNS].to_csv(index=False))
    table = strategy_table(runs)
    atomic_write_text(args.out / "strategies.csv", table.to_csv(index=False))
    md = _markdown(table, len(pool), int((pool.ops <= budget).sum()), budget)
    atomic_write_text(args.out / "strategies.md", md)
    from .strategy_plot import draw_strategies

    draw_strategies(runs, [args.out / "strategies.png", args.out / "strategies.svg"])
    manifest.write()
    print(md)
    return 0


def _markdown(table: pd.DataFrame, n_pool: int, n_fit: int, budget: float) -> str:
    lines = [
        "# Search strategies replayed over the committed results",
        "",
        f"Pool: {n_pool} architectures with default-fidelity results outside the reference set, {n_fit} within"
        f" {format_ops(budget)} OPs; each repeat searches one random half and fits any prior on the other."
        " *best*: mean top-1 (over every recorded seed) of the architecture a strategy observed best;"
        " *HV*: hypervolume of its front (top-1 up, OPs down; from 10% and the budget);"
        " *beats random*: share of random searches of as many trainings on the same half whose best it beats;"
        " *HV gain*: hypervolume minus nsga2-screen's (the search's default before guided), paired by repeat."
        " Brackets: 95% bootstrap intervals over repeats.",
        "",
        "| strategy | trainings | repeats | best top-1 % | HV | beats random | HV gain vs nsga2-screen |",
        "|---|---:|---:|---|---|---|---|",
    ]
    for r in table.sort_values(["n", "hv_median"], ascending=[True, False]).to_dict("records"):
        gain = "" if pd.isna(r["hv_gain"]) else f"{r['hv_gain']:+.4f} [{r['hv_gain_lo']:+.4f}, {r['hv_gain_hi']:+.4f}]"
        lines.append(
            f"| {r['strategy']} | {r['n']} | {r['repeats']} | {100 * r['best_median']:.1f}"
            f" [{100 * r['best_lo']:.1f}, {100 * r['best_hi']:.1f}] | {r['hv_median']:.4f}"
            f" [{r['hv_lo']:.4f}, {r['hv_hi']:.4f}] | {r['beats_random']:.2f}"
            f" [{r['beats_random_lo']:.2f}, {r['beats_random_hi']:.2f}] | {gain} |"
        )
    return "\n".join(lines) + "\n"
