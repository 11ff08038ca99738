"""Rank fidelity of the candidate evaluators, per CPU-second (``python benchmarks/fidelity.py``).

    python benchmarks/fidelity.py --data-dir ../shared/data/cifar10 [--evaluators a,b,...]
        [--archs reference|paper|all] [--limit N] [--report-only] [--out results/calibration]

Runs every training and zero-cost run the evaluators need (:mod:`proxies.calibration.evaluators`) on the
architectures of the reference set (``<reference>/archs.csv``, whether or not the reference has
trained them yet) and of the papers' tables, cheapest evaluator first, the reference architectures
that already have a reference result first (in the set's order: the runs that can be compared now),
then the rest of the set, then the papers' rows. Each run is cached in ``<out>/fidelity-runs.csv``
as soon as it ends: Ctrl-C (exit 130) or a kill loses at most the run in progress, and the same
command resumes. Then it writes ``fidelity-scores.csv`` (every score behind the table),
``fidelity.csv`` (one row per evaluator) and ``fidelity.png`` / ``.svg``, and prints the table.
Metrics and conventions: :mod:`proxies.calibration.rank_fidelity`. ``default`` is always measured (the
``is_default`` rule compares costs with it). Nothing here is ever fitted on the reference set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from search_space.cli import ArgumentParser, check_ours, check_out_folder, make_out_folder, run_cli
from search_space.files import atomic_write_text

from ..data.runtime import check_runtime
from . import evaluators as _evaluators
from .calibrate import default_paper_csv, read_paper_table
from .evaluators import check_evaluators, cpu_per_arch, run_order
from .fidelity_runs import load_runs, run_cached
from .noise import NOISE_COLUMNS, noise_from_runs
from .rank_fidelity import (
    REF_VS_PAPER_COLUMNS,
    SCORE_COLUMNS,
    TABLE_COLUMNS,
    choose_default,
    choose_screen,
    draw_fidelity,
    fidelity_plot_data,
    fidelity_table,
    markdown_table,
    paper_rows,
    reference_vs_papers,
)
from .reference import reference_truth

__all__ = ["main", "read_reference_set"]

DATA_SEED = 0  # the data selection of every run (the training seed is the run's own)
MARKER = "binas rank fidelity"  # in the plots' metadata: a file without it is not ours
OUTPUTS = {"runs": "fidelity-runs.csv", "scores": "fidelity-scores.csv", "table": "fidelity.csv",
           "png": "fidelity.png", "svg": "fidelity.svg", "noise": "seed-noise.csv",
           "ref_vs_papers": "reference-vs-papers.csv"}


def read_reference_set(folder: Path) -> tuple[list[str], pd.Series]:
    """The reference set's architectures (``archs.csv`` order) and its truth (mean test top-1 per
    architecture over the seeds in ``reference.csv``; empty before the first reference run)."""
    archs_csv, ref_csv = folder / "archs.csv", folder / "reference.csv"
    for path in (archs_csv, ref_csv):
        if not path.is_file():
            raise ValueError(f"--reference: {str(path)!r} is not a file (run python -m proxies.reference, or pass"
                             " --reference FOLDER)")
    try:
        archs, ref = pd.read_csv(archs_csv, dtype={"arch": str}), pd.read_csv(ref_csv, dtype={"arch": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"--reference: cannot read the reference set in {str(folder)!r} ({exc})") from None
    if "arch" not in archs.columns:
        raise ValueError(f"--reference: {str(archs_csv)!r} lacks the column 'arch'")
    if not {"arch", "test_top1"} <= set(ref.columns):
        raise ValueError(f"--reference: {str(ref_csv)!r} lacks the column 'arch' or 'test_top1'")
    ref["test_top1"] = pd.to_numeric(ref["test_top1"], errors="coerce")
    return list(dict.fromkeys(archs["arch"].dropna())), reference_truth(ref)


def _check_ours(path: Path, header: list[str] | None) -> None:
    """Refuse to overwrite ``path`` unless it is one of our outputs (or absent)."""
    check_ours(path, header=header, marker=None if header is not None else MARKER)


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python benchmarks/fidelity.py", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help="CIFAR-10 (default: $NAS_DATA_DIR, else a download into the user cache)")
    p.add_argument("--evaluators", default="", help="whose runs to do, comma-separated (default: all; the tables"
                   " always cover every evaluator, from every cached run): " + ", ".join(_evaluators.EVALUATORS))
    p.add_argument("--archs", choices=("reference", "paper", "all"), default="all",
                   help="whose architectures to run (the report uses every cached run); default %(default)s")
    p.add_argument("--limit", type=int, help="stop after this many new runs (default: all)")
    p.add_argument("--report-only", action="store_true", help="run nothing: tables and plot from the cache")
    p.add_argument("--reference", type=Path, default=Path("results/reference"),
                   help="reference set folder with archs.csv and reference.csv (default %(default)s)")
    p.add_argument("--paper-csv", type=Path, help="the papers' tables (default: the copy binas ships)")
    p.add_argument("--out", type=Path, default=Path("results/calibration"), help="default %(default)s")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples of the CIs (0: none)")
    p.add_argument("--threads", type=int, help="CPU threads (default: every core; 1 while other trainings share"
                   " the machine: oversubscribed cores make runs, and their CPU seconds, many times slower)")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available; CPU seconds then mislead)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    registry = _evaluators.EVALUATORS
    names = check_evaluators(args.evaluators.split(","), registry)
    if "default" not in names:
        names.insert(0, "default")
    for flag, value, lo in (("--limit", args.limit, 0), ("--bootstrap", args.bootstrap, 0),
                            ("--threads", args.threads, 1)):
        if value is not None and value < lo:
            raise ValueError(f"{flag}: invalid value {value} (expected >= {lo})")
    if not args.report_only:  # trains: a bad --device or BINAS_CPU_FORMAT fails before anything is read
        check_runtime(args.device)
    ref_archs, truth = read_reference_set(args.reference)
    paper = paper_rows(read_paper_table(args.paper_csv or default_paper_csv()))
    check_out_folder(args.out)
    paths = {k: args.out / v for k, v in OUTPUTS.items()}
    _check_ours(paths["scores"], SCORE_COLUMNS[:4])  # the required columns lead; later ones may change
    _check_ours(paths["table"], TABLE_COLUMNS[:8])
    _check_ours(paths["png"], None)
    _check_ours(paths["svg"], None)
    _check_ours(paths["noise"], NOISE_COLUMNS)
    _check_ours(paths["ref_vs_papers"], REF_VS_PAPER_COLUMNS)
    runs = load_runs(paths["runs"])
    if not args.report_only:
        ref_archs = [a for a in ref_archs if a in truth.index] + [a for a in ref_archs if a not in truth.index]
        archs = {"reference": ref_archs, "paper": list(paper["arch"]), "all": ref_archs + list(paper["arch"])}
        make_out_folder(args.out)
        runs = run_cached(run_order(names, registry), archs[args.archs], paths["runs"], data_dir=args.data_dir,
                          limit=args.limit, device=args.device, threads=args.threads, progress=not args.quiet,
                          data_seed=DATA_SEED)
    names = list(registry)  # the report: every evaluator, so a partial --evaluators run shrinks no table
    cpu = {n: cpu_per_arch(registry[n], runs, registry) for n in names}
    table, scores = fidelity_table(names, registry, runs, truth, paper, cpu=cpu, n_resamples=args.bootstrap)
    make_out_folder(args.out)
    atomic_write_text(paths["scores"], scores.to_csv(index=False))
    atomic_write_text(paths["table"], table.to_csv(index=False))
    draw_fidelity(fidelity_plot_data(table), [paths["png"], paths["svg"]], MARKER)
    noise = noise_from_runs(runs)
    atomic_write_text(paths["noise"], noise.to_csv(index=False))
    agree = reference_vs_papers(truth, paper)
    atomic_write_text(paths["ref_vs_papers"], agree.to_csv(index=False))
    print(markdown_table(table))
    print()
    print(choose_default(table)[1])
    print(choose_screen(table)[1])
    for r in noise.to_dict("records"):
        print(f"seed noise at {r['fidelity']}: SD {100 * r['seed_sd']:.2f} points of validation top-1, pooled over"
              f" {r['archs']} architectures ({r['runs']} runs)")
    a = agree.iloc[-1]
    print(f"the reference set itself against the papers' tables ({a['rows']} rows it has): row-weighted Spearman"
          f" {a['spearman']:.2f}, pairwise {a['pairwise']:.2f}, Sp Table 7 depth pairs {a['depth_pairs'] or 'none yet'}"
          f" ({paths['ref_vs_papers'].name})")
    print(f"wrote {paths['table']}, {paths['scores']}, {paths['noise']}, {paths['png']} and .svg ({len(runs)} runs in"
          " the cache)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
