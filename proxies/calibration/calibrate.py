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
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from search_space import ArchConfig, SearchSpace, analytic_cost, preset_for_paper_row
from search_space.cli import ArgumentParser, choice, run_cli
from search_space.files import atomic_write_text

from ..data.images import resolve_data_dir
from ..data.loader import ProxyData, prepare_data
from ..data.runtime import check_runtime, set_threads
from ..scoring.fidelity import Fidelity, get_fidelity
from ..scoring.run import PROXIES, add_fidelity_args, check_seed, fidelity_from_args, run_proxy
from ..scoring.zero_cost import BASELINES
from ..stats import kendall, spearman

__all__ = ["correlations", "default_paper_csv", "main", "score_rows"]

PAPER_COLUMNS = {"source", "table", "name", "top1"}


PAPER_TABLES = Path(__file__).resolve().parent / "paper_tables.csv"  # facts from the seed papers, shipped


def default_paper_csv() -> Path:
    """The papers' tables binas ships (a copy of ``shared/benchmarks/paper_tables.csv``; a test keeps them equal)."""
    return PAPER_TABLES


def read_paper_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"--paper-csv: {str(path)!r} is not a file (pass --paper-csv, or none for the shipped tables)")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"--paper-csv: cannot parse {str(path)!r} ({exc})") from None
    missing = PAPER_COLUMNS - set(table.columns)
    if missing:
        raise ValueError(f"--paper-csv: {str(path)!r} lacks the column {sorted(missing)[0]!r}")
    top1 = pd.to_numeric(table["top1"], errors="coerce")
    if top1.isna().any():
        bad = table["top1"][top1.isna()].iloc[0]
        raise ValueError(f"--paper-csv: {str(path)!r} has a top1 that is not a number: {bad!r}")
    table["top1"] = top1
    return table


KEY = ("proxy", "fidelity", "seed", "data", "arch")


def _load_cache(path: Path, score_col: str) -> dict[tuple, dict]:
    """Rows already scored in ``path``, by (proxy, fidelity, seed, data, arch)."""
    if not path.is_file() or path.stat().st_size == 0:
        return {}
    try:
        cache = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        cache = pd.DataFrame()
    if not {*KEY, score_col, "seconds", "diverged"} <= set(cache.columns):
        raise ValueError(f"--out: {str(path)!r} exists and is not a calibration CSV (not overwritten)")
    return {tuple(str(r[k]) for k in KEY): r for r in cache.to_dict("records")}


def _save(rows: list[dict], path: Path) -> None:
    atomic_write_text(path, pd.DataFrame(rows).to_csv(index=False))


def score_rows(jobs: list[dict], proxy: str, fidelity: Fidelity, data: ProxyData | None, seed: int,
               out: Path, data_key: str, score_col: str = "score", progress: bool = True) -> list[dict]:
    """Score every job's ``arch`` with ``proxy`` (each architecture once), saving ``out``
    after every evaluation; jobs already scored in ``out`` (same proxy, fidelity, seed and
    data) are taken from it."""
    tag = {"proxy": proxy, "fidelity": fidelity.key(), "seed": seed, "data": data_key}
    cache = _load_cache(out, score_col)
    done = {}
    for arch in dict.fromkeys(job["arch"] for job in jobs):
        hit = cache.get(tuple(str(v) for v in (*tag.values(), arch)))
        if hit is not None:
            done[arch] = {k: hit[k] for k in (score_col, "seconds", "diverged")}

    def rows() -> list[dict]:
        return [{**job, **tag, **done[job["arch"]]} for job in jobs if job["arch"] in done]

    todo = [a for a in dict.fromkeys(job["arch"] for job in jobs) if a not in done]
    with tqdm(total=len(done) + len(todo), initial=len(done), desc=f"{proxy} {fidelity.key()}",
              unit="arch", disable=not progress, file=sys.stderr) as bar:
        for arch in todo:
            result = run_proxy(ArchConfig.decode(arch), proxy, fidelity, data, seed)
            done[arch] = {score_col: result["score"], "seconds": result["seconds"],
                          "diverged": bool(result.get("diverged", False))}
            _save(rows(), out)
            bar.update(1)
    _save(rows(), out)
    return rows()


def correlations(df: pd.DataFrame, truth: str, score: str, group: str) -> dict:
    """Spearman and Kendall per group, and their row-weighted means over the groups where
    they are defined (at least 2 rows, neither side constant)."""
    groups, ws, wk, wn = [], 0.0, 0.0, 0
    for name, g in df.groupby(group, sort=False):
        g = g[g[score].notna() & g[truth].notna()]  # -inf is a legitimate (worst) score
        a, b = g[truth].astype(float).to_numpy(), g[score].astype(float).to_numpy()
        rho, tau = spearman(a, b), kendall(a, b)  # ranked first: infinite scores are the extremes they are
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
    p = ArgumentParser(prog="python -m proxies.calibrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--against", choices=("paper", "reference"), default="paper")
    p.add_argument("--data-dir", help="CIFAR-10 root (default: $NAS_DATA_DIR, else a download; --proxy ops or"
                   " params against the papers reads no image and needs none)")
    p.add_argument("--proxy", default="train", type=choice(PROXIES, "name"), help=f"one of: {', '.join(PROXIES)}")
    add_fidelity_args(p)
    p.add_argument("--reference-fidelity", default="thorough", help="--against reference: the truth")
    p.add_argument("--n", type=int, default=10, help="--against reference: architectures to sample")
    p.add_argument("--max-ops", type=float, help="--against reference: only sample up to these OPs")
    p.add_argument("--paper-csv", type=Path, help="the papers' tables (default: the copy binas ships)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="per-row CSV (default calibration-<against>-<proxy>.csv)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    check_seed(args.seed)
    check_runtime()
    fidelity = fidelity_from_args(args)
    out = args.out or Path(f"calibration-{args.against}-{args.proxy}.csv")
    if out.exists() and not out.is_file():
        raise ValueError(f"--out: {str(out)!r} is not a file")
    if not out.parent.is_dir():
        raise ValueError(f"--out: the folder {str(out.parent)!r} does not exist")
    ref = get_fidelity(args.reference_fidelity) if args.against == "reference" else None
    ref_out = out.with_name(out.stem + "-reference.csv")
    _load_cache(out, "score")  # an unrelated file named by --out fails here, untouched
    if ref is not None:
        _load_cache(ref_out, "top1")
    if args.against == "paper":
        jobs = _paper_jobs(read_paper_table(args.paper_csv or default_paper_csv()))
    else:
        if args.n < 2:
            raise ValueError(f"--n: invalid value {args.n} (expected >= 2)")
        jobs = _reference_jobs(args.n, args.seed, args.max_ops)
    set_threads()
    start = time.perf_counter()
    # The papers' own figures (ops, params) read no image: with no data named, none is looked for
    no_images = (args.proxy in BASELINES and ref is None and args.data_dir is None
                 and not os.environ.get("NAS_DATA_DIR"))
    data_key = "none" if no_images else str(resolve_data_dir(args.data_dir).resolve())

    def data_for(f: Fidelity) -> ProxyData | None:
        if no_images:
            return None
        return prepare_data(args.data_dir, f.train_subset, f.val_size, args.seed, progress=not args.json)

    rows = score_rows(jobs, args.proxy, fidelity, data_for(fidelity), args.seed, out, data_key)
    truth = "top1"
    if ref is not None:
        ref_rows = score_rows(jobs, "train", ref, data_for(ref), args.seed, ref_out, data_key, score_col="top1")
        for row, r in zip(rows, ref_rows, strict=True):
            row["top1"] = r["top1"]
        _save(rows, out)
    summary = correlations(pd.DataFrame(rows), truth, "score", "table")
    summary.update({"against": args.against, "proxy": args.proxy, "fidelity": fidelity.key(),
                    "seed": args.seed, "rows_csv": str(out), "wall_seconds": time.perf_counter() - start,
                    "evaluation_seconds": float(pd.DataFrame(rows).drop_duplicates("arch")["seconds"].sum())})
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
