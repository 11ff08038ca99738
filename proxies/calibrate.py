"""``python -m proxies.calibrate``: does a proxy rank architectures as the papers do?

``--against paper`` scores every preset named in ``paper_tables.csv`` with a proxy and
reports Spearman's rho and Kendall's tau against the published top-1 *within each table*
(a table's rows share a training recipe; raw accuracies are never pooled across tables), then
the row-weighted mean over the tables where a correlation is defined.

``--against reference`` samples N architectures and compares a cheap fidelity with an
expensive one (``--reference-fidelity``) the same way.

Per-row results go to a CSV that doubles as a cache: an interrupted run picks up where it
stopped, and an architecture shared by several rows is evaluated once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from search_space import ArchConfig, SearchSpace, analytic_cost, preset_for_paper_row
from search_space.cli import run_cli

from .data import ProxyData, prepare_data
from .evaluate import PROXIES, run_proxy
from .fidelity import FIDELITIES, Fidelity, get_fidelity
from .rank import kendall, spearman
from .train import set_threads

__all__ = ["correlations", "default_paper_csv", "main", "score_rows"]

PAPER_COLUMNS = {"source", "table", "name", "top1"}


def default_paper_csv() -> Path:
    shared = Path(os.environ.get("BINAS_SHARED", Path.cwd().parent / "shared"))
    return shared / "benchmarks" / "paper_tables.csv"


def read_paper_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"--paper-csv: {str(path)!r} is not a file (set BINAS_SHARED or pass --paper-csv)")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"--paper-csv: cannot parse {str(path)!r} ({exc})") from None
    missing = PAPER_COLUMNS - set(table.columns)
    if missing:
        raise ValueError(f"--paper-csv: {str(path)!r} lacks the column {sorted(missing)[0]!r}")
    return table


def _load_cache(path: Path) -> pd.DataFrame:
    if path.is_file() and path.stat().st_size > 0:
        try:
            return pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise ValueError(f"--out: {str(path)!r} exists but is not a calibration CSV") from None
    return pd.DataFrame()


def _save(rows: list[dict], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame(rows).to_csv(tmp, index=False)
    tmp.replace(path)


def score_rows(jobs: list[dict], proxy: str, fidelity: Fidelity, data: ProxyData, seed: int,
               out: Path, score_col: str = "score", progress: bool = True) -> list[dict]:
    """Score every job's ``arch`` with ``proxy`` (each architecture once), saving ``out``
    after every evaluation; jobs already scored in ``out`` are taken from it."""
    cache = _load_cache(out)
    done: dict[str, dict] = {}
    key_cols = {"proxy", "fidelity", "seed", "arch", score_col}
    if not cache.empty and key_cols <= set(cache.columns):
        mine = cache[(cache["proxy"] == proxy) & (cache["fidelity"] == fidelity.key())
                     & (cache["seed"] == seed)]
        done = {r["arch"]: r for r in mine.to_dict("records")}
    rows: list[dict] = []
    archs = {job["arch"] for job in jobs}
    todo = [a for a in dict.fromkeys(job["arch"] for job in jobs) if a not in done]
    bar = tqdm(total=len(archs), initial=len(archs) - len(todo), desc=f"{proxy} {fidelity.key()}",
               unit="arch", disable=not progress, file=sys.stderr)
    for arch in todo:
        result = run_proxy(ArchConfig.decode(arch), proxy, fidelity, data, seed)
        done[arch] = {score_col: result["score"], "seconds": result["seconds"],
                      "diverged": bool(result.get("diverged", False))}
        rows = [{**job, "proxy": proxy, "fidelity": fidelity.key(), "seed": seed,
                 **{k: done[job["arch"]][k] for k in (score_col, "seconds", "diverged")}}
                for job in jobs if job["arch"] in done]
        _save(rows, out)
        bar.update(1)
    bar.close()
    rows = [{**job, "proxy": proxy, "fidelity": fidelity.key(), "seed": seed,
             **{k: done[job["arch"]].get(k) for k in (score_col, "seconds", "diverged")}} for job in jobs]
    _save(rows, out)
    return rows


def correlations(df: pd.DataFrame, truth: str, score: str, group: str) -> dict:
    """Spearman and Kendall per group, and their row-weighted means over the groups where
    they are defined (at least 2 rows, neither side constant)."""
    groups, ws, wk, wn = [], 0.0, 0.0, 0
    for name, g in df.groupby(group, sort=False):
        g = g[np.isfinite(g[score].astype(float)) & np.isfinite(g[truth].astype(float))]
        a, b = g[truth].astype(float).tolist(), g[score].astype(float).tolist()
        rho, tau = spearman(a, b), kendall(a, b)
        entry = {"group": str(name), "rows": len(g), "archs": int(g["arch"].nunique()),
                 "spearman": rho, "kendall": tau}
        groups.append(entry)
        if not (math.isnan(rho) or math.isnan(tau)):
            ws, wk, wn = ws + rho * len(g), wk + tau * len(g), wn + len(g)
    return {"groups": groups, "spearman": ws / wn if wn else float("nan"),
            "kendall": wk / wn if wn else float("nan"), "rows_used": wn}


def _paper_jobs(table: pd.DataFrame) -> list[dict]:
    jobs = []
    for row in table.to_dict("records"):
        preset = preset_for_paper_row(row["name"])
        jobs.append({"source": row["source"], "table": f"{row['source']}-T{row['table']}",
                     "name": row["name"], "preset": preset.name, "arch": preset.arch.encode(),
                     "top1": row["top1"]})
    return jobs


def _reference_jobs(n: int, seed: int, max_ops: float | None) -> list[dict]:
    space = SearchSpace(binary_scopes=("pw", "all"))
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    tries = 0
    while len(seen) < n:
        tries += 1
        if tries > 1000 * n:
            raise ValueError(f"--max-ops: found only {len(seen)} of {n} architectures under the limit")
        arch = space.sample(rng)
        if max_ops is None or analytic_cost(arch).ops() <= max_ops:
            seen[arch.encode()] = None
    return [{"table": "reference", "name": f"sample{i}", "preset": "", "arch": a}
            for i, a in enumerate(seen)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m proxies.calibrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--against", choices=("paper", "reference"), default="paper")
    p.add_argument("--data-dir", help="CIFAR-10 root (default: $NAS_DATA_DIR, else a download)")
    p.add_argument("--proxy", default="train", help=f"one of: {', '.join(PROXIES)}")
    p.add_argument("--fidelity", default="default", help=f"one of: {', '.join(FIDELITIES)}")
    p.add_argument("--epochs", type=int, help="override the fidelity's epochs")
    p.add_argument("--train-subset", type=int, help="override the fidelity's training images")
    p.add_argument("--val-size", type=int, help="override the fidelity's validation images")
    p.add_argument("--reference-fidelity", default="thorough", help="--against reference: the truth")
    p.add_argument("--n", type=int, default=10, help="--against reference: architectures to sample")
    p.add_argument("--max-ops", type=float, help="--against reference: only sample up to these OPs")
    p.add_argument("--paper-csv", type=Path, help="default: $BINAS_SHARED or ../shared")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="per-row CSV (default calibration-<against>-<proxy>.csv)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.proxy not in PROXIES:
        raise ValueError(f"--proxy: unknown name {args.proxy!r} (choose from {', '.join(PROXIES)})")
    fidelity = get_fidelity(args.fidelity)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("train_subset", args.train_subset),
                                   ("val_size", args.val_size)) if v is not None}
    fidelity = replace(fidelity, **overrides)
    out = args.out or Path(f"calibration-{args.against}-{args.proxy}.csv")
    if out.exists() and not out.is_file():
        raise ValueError(f"--out: {str(out)!r} is not a file")
    if args.against == "paper":
        jobs = _paper_jobs(read_paper_table(args.paper_csv or default_paper_csv()))
    else:
        if args.n < 2:
            raise ValueError(f"--n: invalid value {args.n} (expected >= 2)")
        jobs = _reference_jobs(args.n, args.seed, args.max_ops)
    set_threads()
    start = time.perf_counter()
    ref = get_fidelity(args.reference_fidelity) if args.against == "reference" else None

    def data_for(f: Fidelity) -> ProxyData:
        return prepare_data(args.data_dir, f.train_subset, f.val_size, args.seed, progress=not args.json)

    rows = score_rows(jobs, args.proxy, fidelity, data_for(fidelity), args.seed, out)
    truth = "top1"
    if ref is not None:
        ref_out = out.with_name(out.stem + "-reference.csv")
        ref_rows = score_rows(jobs, "train", ref, data_for(ref), args.seed, ref_out, score_col="top1")
        for row, r in zip(rows, ref_rows, strict=True):
            row["top1"] = r["top1"]
        _save(rows, out)
    summary = correlations(pd.DataFrame(rows), truth, "score", "table")
    summary.update({"against": args.against, "proxy": args.proxy, "fidelity": fidelity.key(),
                    "seed": args.seed, "rows_csv": str(out), "wall_seconds": time.perf_counter() - start,
                    "evaluation_seconds": float(pd.DataFrame(rows)["seconds"].sum())})
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{'table':14s} {'rows':>4s} {'archs':>5s} {'spearman':>9s} {'kendall':>8s}")
        for g in summary["groups"]:
            print(f"{g['group']:14s} {g['rows']:4d} {g['archs']:5d} {g['spearman']:9.3f} {g['kendall']:8.3f}")
        print(f"{'weighted mean':14s} {summary['rows_used']:4d} {'':5s} {summary['spearman']:9.3f}"
              f" {summary['kendall']:8.3f}")
        print(f"rows: {out}   wall: {summary['wall_seconds']:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
