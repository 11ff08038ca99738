"""``python -m nas.analyze claims|edf|rediscovery|confirm``: do the seed papers' claims hold under our
evaluator, how do the design choices shape the error distribution of a budget's design space, what
did searches without the presets find, and do a search's finds hold at seeds it never saw.

    python -m nas.analyze claims --data-dir D [--seeds 3] [--fidelity default ...] [--out runs/analyze]
    python -m nas.analyze edf --data-dir D --budget 50M [--n 60] [--spaces uniform,per-stage] [--out ...]
    python -m nas.analyze rediscovery SEARCH [SEARCH ...] [--out ...]
    python -m nas.analyze confirm SEARCH --data-dir D [--seeds 3] [--top 1] [--presets P,...] [--out ...]

Every training is one run of the evaluator (``proxies.calibration.evaluators.RunSpec``: validation top-1 of the
proxy at the fidelity, data seed 0, a training seed), cached in ``OUT/runs.csv`` as soon as it ends
(``--runs`` names another cache, e.g. the fidelity benchmark's, to reuse its runs): Ctrl-C or a kill
loses at most the run in progress, and the same command resumes. Outputs are rewritten from the
cache at the end (``--report-only``: from the cache alone):

* claims: ``claims.csv`` (claim, source, paper_diff, ours_mean_diff, ours_ci_low, ours_ci_high,
  seeds, verdict, ...) and ``claims.md``;
* edf: ``edf-archs.csv`` (every architecture, its OPs, top-1, error and choice values),
  ``edf.csv`` (the curves), ``edf-stats.csv`` (each value against the rest, plain and at equal
  OPs), ``edf-shares.csv`` (each stage choice's share of stages against error), ``edf.md`` (those
  tables in Markdown) and ``edf-<space>.png`` / ``.svg``;
* rediscovery (trains nothing: reads finished ``nas.search --no-seed-presets`` folders):
  ``rediscovery-runs.csv``, ``rediscovery-presets.csv``, ``rediscovery-choices.csv`` and
  ``rediscovery.md`` (:mod:`nas.analyze.rediscovery`);
* confirm: the search's best found architectures against the seed presets it was compared with,
  retrained at seeds the search never used (:mod:`nas.analyze.confirm`): ``confirm.csv`` and
  ``confirm.md``; its runs are cached per seed (``OUT/runs-s<seed>.csv``: a seed also selects the data).

The default ``--out`` is ``runs/analyze`` (ignored by git); committed analyses live in
``results/claims`` and ``results/edf``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from itertools import zip_longest
from pathlib import Path

import pandas as pd

from proxies import DataOptions, Fidelity
from proxies.calibration.calibrate import default_paper_csv, read_paper_table
from proxies.calibration.evaluators import RunSpec, is_diverged
from proxies.calibration.fidelity_runs import load_runs, run_cached
from proxies.data.runtime import check_runtime
from proxies.manifest import Manifest, file_identity
from proxies.scoring.run import add_fidelity_args, data_options_from_args, fidelity_from_args
from search_space import PRESETS, SEED_PRESETS, SPACES
from search_space.cli import ArgumentParser, check_ours, check_out_folder, int_at_least, make_out_folder, run_cli
from search_space.files import atomic_write_text

from ..budget import format_ops, parse_budget
from ..settings import SearchSettings
from .claims import CLAIM_COLUMNS, CLAIMS, claim_archs, claims_markdown, claims_table, paper_top1
from .confirm import CONFIRM_COLUMNS, CONFIRM_TITLE, confirm_markdown, confirm_table, fresh_seeds
from .edf import (
    ARCH_COLUMNS,
    EDF_TITLE,
    SHARE_COLUMNS,
    STATS_COLUMNS,
    choice_values,
    draw_archs,
    edf_curves,
    edf_markdown,
    edf_shares,
    edf_stats,
)
from .plot import MARKER, draw_edf, edf_plot_data
from .rediscovery import (
    CHOICE_COLUMNS,
    PRESET_COLUMNS,
    RUN_HEADER,
    TITLE,
    load_reports,
    rediscovery_markdown,
    rediscovery_tables,
)
from .search_folder import open_search
from .strategies_cli import add_parser as add_strategies_parser
from .strategies_cli import run as run_strategies

__all__ = ["main"]

DATA_SEED = 0
CLAIMS_TITLE = "# The seed papers' claims"  # claims.md starts with it: a file without it is not ours
REDISCOVERY_FILES = {
    "rediscovery-runs.csv": ("runs", RUN_HEADER),
    "rediscovery-presets.csv": ("presets", PRESET_COLUMNS),
    "rediscovery-choices.csv": ("choices", CHOICE_COLUMNS),
}
EDF_HEADERS = {
    "edf-archs.csv": ["space", "arch", "ops", "top1", "error"],
    "edf.csv": ["space", "choice", "value", "n", "error", "cdf"],
    "edf-stats.csv": STATS_COLUMNS[:7],  # the columns up to ks_p; later ones were added
    "edf-shares.csv": SHARE_COLUMNS,
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="CIFAR-10 or any image folder (default $NAS_DATA_DIR)")
    add_fidelity_args(p)
    p.add_argument("--out", type=Path, default=Path("runs/analyze"), help="output folder (default %(default)s)")
    p.add_argument("--runs", type=Path, help="the run cache to read and extend (default OUT/runs.csv)")
    p.add_argument("--limit", type=int_at_least(0), help="stop after this many new runs (default: all)")
    p.add_argument("--report-only", action="store_true", help="train nothing: outputs from the cached runs")
    p.add_argument("--threads", type=int_at_least(1), help="CPU threads (default: every core)")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _n_archs(text: str) -> int | None:
    """``--n``: an integer >= 2, or ``all`` (None)."""
    if text == "all":
        return None
    try:
        return int_at_least(2)(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace(")", " or all)")) from None


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m nas.analyze", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="{claims,edf,rediscovery,confirm,strategies}")
    c = sub.add_parser("claims", help="the seed papers' claims: reproduced, contradicted or inconclusive")
    c.add_argument("--seeds", type=int_at_least(2), default=3, help="training seeds per architecture (default 3)")
    c.add_argument("--paper-csv", type=Path, help="the papers' tables (default: the copy binas ships)")
    _common(c)
    e = sub.add_parser("edf", help="error EDFs of random architectures within a budget, per design choice")
    e.add_argument("--budget", required=True, help="OPs budget, e.g. 50M")
    e.add_argument(
        "--n",
        type=_n_archs,
        default=60,
        help="architectures per space, or 'all': every one within the budget, for a space small enough to"
        " list (sp, mobinet; default 60)",
    )
    e.add_argument(
        "--spaces",
        default="uniform,per-stage",
        help=f"comma-separated: {', '.join(SPACES)} (default uniform,per-stage)",
    )
    e.add_argument("--seed", type=int_at_least(0), default=0, help="the draw's seed (training seed is 0)")
    e.add_argument("--bootstrap", type=int_at_least(0), default=2000, help="bootstrap resamples (default 2000)")
    _common(e)
    r = sub.add_parser("rediscovery", help="finished --no-seed-presets searches side by side (trains nothing)")
    r.add_argument("searches", nargs="+", type=Path, metavar="SEARCH", help="a search's output folder (its study.db)")
    r.add_argument(
        "--random",
        type=Path,
        metavar="EDF_ARCHS",
        help="nas.analyze edf's edf-archs.csv: each search against random search of equal cost",
    )
    r.add_argument(
        "--search-seeds",
        metavar="S[,S...]",
        help="the --seed each SEARCH ran with, in order, for studies made before binas recorded it",
    )
    r.add_argument("--out", type=Path, default=Path("runs/analyze"), help="output folder (default %(default)s)")
    add_strategies_parser(sub)
    f = sub.add_parser("confirm", help="a search's best finds against the seed presets, at seeds it never used")
    f.add_argument("search", type=Path, metavar="SEARCH", help="a search's output folder (its study.db)")
    f.add_argument("--seeds", type=int_at_least(2), default=3, help="fresh seeds (default 3)")
    f.add_argument(
        "--top",
        type=int_at_least(1),
        default=1,
        help="how many of the front's best architectures (seed presets aside) to confirm (default 1)",
    )
    f.add_argument(
        "--presets", help="comma-separated seed presets to compare with (default: every one the search trained)"
    )
    f.add_argument(
        "--search-seed",
        type=int_at_least(0),
        help="the --seed the search ran with, for a study made before binas recorded it",
    )
    f.add_argument("--data-dir", help="the data the search trained on (default $NAS_DATA_DIR)")
    f.add_argument("--out", type=Path, default=Path("runs/analyze"), help="output folder (default %(default)s)")
    f.add_argument("--limit", type=int_at_least(0), help="stop after this many new runs (default: all)")
    f.add_argument("--report-only", action="store_true", help="train nothing: outputs from the cached runs")
    f.add_argument("--threads", type=int_at_least(1), help="CPU threads (default: every core)")
    f.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _run(args: argparse.Namespace, specs: list[RunSpec], archs: list[str]) -> pd.DataFrame:
    """Every (spec, arch) run, from the cache or trained now; returns the whole cache."""
    path = args.runs or args.out / "runs.csv"
    if args.report_only:
        if not path.is_file():
            raise ValueError(
                f"--runs: no run cache at {str(path)!r} (drop --report-only to train, or pass the"
                " --runs that holds the runs)"
            )
        runs = load_runs(path, "--runs")
        key = specs[0].fidelity.key()
        if not _scores(runs, key):
            raise ValueError(
                f"--runs: {str(path)!r} holds no run at fidelity {key!r} (pass the --fidelity its"
                " runs have, or drop --report-only to train)"
            )
        return runs
    make_out_folder(args.out)
    return run_cached(
        specs,
        archs,
        path,
        data_dir=args.data_dir,
        option="--runs",
        limit=args.limit,
        device=args.device,
        threads=args.threads,
        progress=not args.quiet,
        options=data_options_from_args(args),
        data_seed=DATA_SEED,
    )


def _scores(runs: pd.DataFrame, fidelity: str) -> dict[tuple[str, int], float]:
    """Validation top-1 per (arch, seed); a run that diverged scores 0, the worst, rather than NaN,
    which would drop it (the worst architectures would leave the EDFs, a claim would lose that seed)."""
    train = runs[(runs["kind"] == "train") & (runs["fidelity"] == fidelity)]
    return {
        (r["arch"], int(r["seed"])): 0.0 if is_diverged(r.get("diverged")) else float(r["val_top1"])
        for r in train.to_dict("records")
    }


def _claims(args: argparse.Namespace) -> int:
    fidelity = fidelity_from_args(args)
    paper = paper_top1(read_paper_table(args.paper_csv or default_paper_csv()))
    missing = [r for c in CLAIMS for r in c.a + c.b if r not in paper]
    if missing:  # before any training, not after it
        raise ValueError(
            f"--paper-csv: no row {missing[0]!r} (source:table:name) in the papers' tables"
            f" ({len(missing)} claim rows missing)"
        )
    check_ours(args.out / "claims.csv", header=CLAIM_COLUMNS[:8])  # the first columns; later ones changed
    check_ours(args.out / "claims.md", marker=CLAIMS_TITLE)
    archs = list(dict.fromkeys(x.encode() for c in CLAIMS for side in claim_archs(c) for x in side))
    seeds = list(range(args.seeds))
    runs = _run(args, [RunSpec("train", fidelity, s) for s in seeds], archs)
    table = claims_table(_scores(runs, fidelity.key()), seeds, paper, fidelity.key())
    make_out_folder(args.out)
    atomic_write_text(args.out / "claims.csv", table.to_csv(index=False))
    md = claims_markdown(table)
    how = (
        f"Differences in points of validation top-1, ours over {len(seeds)} training seed(s). *verdict*: the"
        " paper's sign with a 95% t interval over the seeds that excludes 0 (`reproduced`), the opposite sign"
        " (`contradicted`), else `inconclusive`. *after FDR*: the verdicts that survive the Benjamini-Hochberg"
        f" correction over the {int(table['p_value'].notna().sum())} claims that can get a verdict (adjusted"
        " p < 0.05).\n\n"
    )
    atomic_write_text(args.out / "claims.md", f"{CLAIMS_TITLE} at fidelity `{fidelity.key()}`\n\n{how}{md}")
    print(md)

    def tally(col: str) -> str:
        return ", ".join(f"{n} {v}" for v, n in sorted(table[col].value_counts().to_dict().items()))

    print(
        f"{len(table)} claims: {tally('verdict')} (after FDR: {tally('verdict_fdr')});"
        f" wrote {args.out / 'claims.csv'} and claims.md",
        file=sys.stderr,
    )
    return 0


def _edf(args: argparse.Namespace) -> int:
    fidelity = fidelity_from_args(args)
    budget = parse_budget(args.budget)
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    for s in spaces:
        if s not in SPACES:
            raise ValueError(f"--spaces: unknown value {s!r} (choose from {', '.join(SPACES)})")
    if not spaces:
        raise ValueError(f"--spaces: no space given in {args.spaces!r} (choose from {', '.join(SPACES)})")
    for name, header in EDF_HEADERS.items():
        check_ours(args.out / name, header=header)
    check_ours(args.out / "edf.md", marker=EDF_TITLE)
    ours = (args.out / "edf-archs.csv").is_file()  # checked above: the plots beside it are ours (older: no marker)
    for s in spaces:
        for suffix in ("png", "svg"):
            check_ours(args.out / f"edf-{s}.{suffix}", marker=None if ours else MARKER)
    drawn = {s: draw_archs(s, args.n, budget, args.seed) for s in spaces}
    # the OPs as a default search counts them (its convention, resolution and classes), recorded beside each score
    settings = SearchSettings(budget=int(budget), fidelity=fidelity, data=data_options_from_args(args))
    spec = RunSpec("train", fidelity, 0)
    order = [a.encode() for row in zip_longest(*drawn.values()) for a in row if a is not None]  # spaces interleaved
    runs = _run(args, [spec], order)
    scores = _scores(runs, fidelity.key())
    rows = []
    for s, archs in drawn.items():
        for a in archs:
            top1 = scores.get((a.encode(), 0))
            rows.append(
                {
                    "space": s,
                    "arch": a.encode(),
                    "ops": settings.ops(a),
                    "top1": top1,
                    "error": None if top1 is None else 1 - top1,
                    **choice_values(a),
                    "fidelity": fidelity.key(),
                    "budget": budget,
                    "data_seed": DATA_SEED,
                    "convention": settings.convention,
                    "resolution": settings.resolution,
                    "num_classes": settings.num_classes,
                    "test_fraction": settings.data.test_fraction,
                    "skip_bad_images": settings.data.skip_bad,
                }
            )
    table = pd.DataFrame(rows, columns=ARCH_COLUMNS)
    table["error"] = pd.to_numeric(table["error"])
    done = table[table["error"].notna()]
    curves, stats, shares = edf_curves(done), edf_stats(done, resamples=args.bootstrap), edf_shares(done)
    make_out_folder(args.out)
    atomic_write_text(args.out / "edf-archs.csv", table.to_csv(index=False))
    atomic_write_text(args.out / "edf.csv", curves.to_csv(index=False))
    atomic_write_text(args.out / "edf-stats.csv", stats.to_csv(index=False))
    atomic_write_text(args.out / "edf-shares.csv", shares.to_csv(index=False))
    how = (
        f"Proxy top-1 error at fidelity `{fidelity.key()}` of "
        + ("every architecture of the space" if args.n is None else "architectures drawn uniformly at random")
        + f" within {args.budget} OPs (draw seed {args.seed}, training seed 0), split by each choice's value (in the"
        " per-stage space: the value of at least 3 of the 5 stages, else `mixed`). *vs the rest*: the value's"
        " median error less the median of every other architecture of the space, in points, with a 95%"
        " bootstrap interval (bold: it excludes 0; negative: lower error). *at equal OPs*: the same on the"
        " residuals of a line of error on log OPs (it leans towards 0 for a value that goes with OPs). *KS*:"
        " two-sample Kolmogorov-Smirnov statistic and p-value; *p (FDR)*: Benjamini-Hochberg over the space's"
        " values. The intervals are not corrected for the many values of a space. Values of fewer than 5"
        " architectures are not compared. One training seed per architecture: the evaluator's seed SD (about"
        " 1.6 points) is part of every spread.\n\n"
    )
    md = edf_markdown(done, stats, shares)
    atomic_write_text(args.out / "edf.md", f"{EDF_TITLE} within {args.budget} OPs\n\n{how}{md}")
    for s in spaces:
        n = int((done["space"] == s).sum())
        title = f"{s} space: {n} architectures within {args.budget} OPs, fidelity {fidelity.key()}"
        draw_edf(edf_plot_data(curves, s, title), [args.out / f"edf-{s}.png", args.out / f"edf-{s}.svg"])
    print(stats.to_string(index=False, float_format=lambda v: f"{v:.3f}") if len(stats) else "no runs yet")
    print(
        f"{len(done)} of {len(table)} architectures evaluated; wrote {args.out}/edf-archs.csv, edf.csv,"
        " edf-stats.csv, edf-shares.csv, edf.md and the plots",
        file=sys.stderr,
    )
    return 0


def _random_sample(path: Path) -> pd.DataFrame:
    """``nas.analyze edf``'s ``edf-archs.csv`` at ``path``, for ``rediscovery --random``."""
    try:
        sample = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"--random: cannot read {str(path)!r} ({exc})") from None
    missing = [c for c in ARCH_COLUMNS if c not in sample.columns]
    if missing:
        raise ValueError(
            f"--random: {str(path)!r} is not an edf-archs.csv of this version of nas.analyze edf (no"
            f" {', '.join(missing)} column; rerun nas.analyze edf --report-only with the same --budget,"
            " --n, --seed and fidelity to rewrite it)"
        )
    for c in ("ops", "top1", "budget"):
        bad = sample[c].notna() & pd.to_numeric(sample[c], errors="coerce").isna()
        if bad.any():
            raise ValueError(f"--random: {str(path)!r} has a {c} that is not a number ({sample[c][bad].iloc[0]!r})")
    return sample


def _search_seeds(text: str | None, n: int) -> list[int | None]:
    """``--search-seeds``: one ``--seed`` per SEARCH, for studies made before binas recorded it."""
    if text is None:
        return [None] * n
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != n or not all(p.isdigit() for p in parts):
        raise ValueError(f"--search-seeds: {text!r} is not {n} comma-separated seeds (one per SEARCH, in order)")
    return [int(p) for p in parts]


def _rediscovery(args: argparse.Namespace) -> int:
    for file, (_, header) in REDISCOVERY_FILES.items():
        check_ours(args.out / file, header=header)
    check_ours(args.out / "rediscovery.md", marker=TITLE)
    sample = None if args.random is None else _random_sample(args.random)
    seeds = _search_seeds(args.search_seeds, len(args.searches))
    reports = load_reports(args.searches)  # every search read before anything is written
    tables = rediscovery_tables(reports, sample, dict(zip(reports, seeds, strict=True)))
    make_out_folder(args.out)
    for file, (key, _) in REDISCOVERY_FILES.items():
        atomic_write_text(args.out / file, tables[key].to_csv(index=False))
    md = rediscovery_markdown(tables)
    atomic_write_text(args.out / "rediscovery.md", md)
    print(md)
    print(
        f"{len(reports)} searches; wrote {', '.join(REDISCOVERY_FILES)} and rediscovery.md in {args.out}",
        file=sys.stderr,
    )
    return 0


def _confirm_inputs(args: argparse.Namespace) -> tuple[dict, list[dict], list[dict], list[int]]:
    """(meta, found, presets, fresh seeds) of the search in ``args.search``; ValueError naming the option."""
    from ..report import report_data  # nas.report imports Optuna: only the commands that read studies need it

    study, meta = open_search(args.search)
    d = report_data(study)
    seed = meta.get("seed")
    if seed is None and args.search_seed is None:
        raise ValueError(
            f"--search-seed: the study in {str(args.search)!r} does not record the --seed it ran with"
            " (made before binas recorded it); pass it, e.g. --search-seed 0"
        )
    if seed is not None and args.search_seed is not None and args.search_seed != seed:
        raise ValueError(f"--search-seed: {args.search_seed} is not the seed the study records ({seed})")
    seeds = fresh_seeds(int(seed if seed is not None else args.search_seed), int(meta.get("seeds", 1)), args.seeds)
    preset_archs = {PRESETS[n].arch.encode() for n in SEED_PRESETS}
    front = d["front"].sort_values(["top1", "ops"], ascending=[False, True])
    found = front[~front["arch"].isin(preset_archs)].head(args.top).to_dict("records")
    if not found:
        raise ValueError(
            f"SEARCH: the front of {str(args.search)!r} holds no architecture besides the seed"
            " presets: nothing to confirm"
        )
    trained = {e["preset"]: e for e in d["seeds"] if e["evaluated"]}
    names = [n.strip() for n in (args.presets or "").split(",") if n.strip()] or list(trained)
    for n in names:
        if n not in SEED_PRESETS:
            raise ValueError(f"--presets: unknown seed preset {n!r} (choose from {', '.join(SEED_PRESETS)})")
    if not names:
        raise ValueError(
            f"SEARCH: {str(args.search)!r} trained no seed preset to compare with (a search run with"
            " --no-compare-presets, or not finished): name them with --presets"
        )
    # a preset the search never scored (--no-compare-presets) is trained at the search's own seed too: top1 None
    presets = [trained.get(n) or {"preset": n, "arch": PRESETS[n].arch.encode(), "top1": None} for n in names]
    for p in presets:
        if p["top1"] is None:
            p["ops"] = SearchSettings(
                budget=int(meta["budget"]), convention=meta["convention"], resolution=int(meta["resolution"]),
                num_classes=int(meta["num_classes"])).ops(PRESETS[p["preset"]].arch)
    return meta, found, presets, seeds


def _confirm(args: argparse.Namespace) -> int:
    check_ours(args.out / "confirm.csv", header=CONFIRM_COLUMNS)
    check_ours(args.out / "confirm.md", marker=CONFIRM_TITLE)
    meta, found, presets, seeds = _confirm_inputs(args)
    fidelity = Fidelity.from_key(meta["fidelity"])
    stored = {"test_fraction": meta.get("test_fraction"), "skip_bad": meta.get("skip_bad_images")}
    options = DataOptions(**{k: v for k, v in stored.items() if v is not None})  # older studies: the defaults
    archs = list(dict.fromkeys([f["arch"] for f in found] + [p["arch"] for p in presets]))
    caches = {s: args.out / f"runs-s{s}.csv" for s in seeds}  # a seed selects the data too: one cache each
    own = int(meta["seed"] if meta.get("seed") is not None else args.search_seed)
    unscored = [p["arch"] for p in presets if p["top1"] is None]  # trained at the search's seed: its lead
    runs = []
    plan = [(s, path, archs) for s, path in caches.items()]
    if unscored:
        plan.insert(0, (own, args.out / f"runs-s{own}.csv", unscored))
    if args.report_only:
        runs = [load_runs(path, "--out") for _, path, _ in plan if path.is_file()]
        if not runs:
            raise ValueError(f"--out: no confirmation runs in {str(args.out)!r} (drop --report-only to train)")
    else:
        make_out_folder(args.out)
        left = args.limit
        for s, path, todo in plan:  # seed by seed: an interrupted run leaves whole pairs
            before = len(load_runs(path, "--out"))
            cache = run_cached(
                [RunSpec("train", fidelity, s)],
                todo,
                path,
                data_dir=args.data_dir,
                option="--out",
                limit=left,
                device=args.device,
                threads=args.threads,
                progress=not args.quiet,
                options=options,
                data_seed=s,
            )
            runs.append(cache)
            if left is not None:
                left = max(0, left - (len(cache) - before))
    scores = _scores(pd.concat(runs, ignore_index=True), fidelity.key())
    for p in presets:
        if p["top1"] is None:
            p["top1"] = scores.get((p["arch"], own), math.nan)  # NaN until trained: no lead, no verdict
    table = confirm_table(scores, found, presets, seeds)
    make_out_folder(args.out)
    atomic_write_text(args.out / "confirm.csv", table.to_csv(index=False))
    how = (
        f"Search `{args.search}` (fidelity `{fidelity.key()}`), retrained at fresh seeds {seeds} (each selects"
        " the data and initialises training as `nas.search --seed S` would). Differences in points of validation"
        " top-1, found minus preset; *search's lead*: the same difference at the search's own seed. *verdict*:"
        " the search's sign with a 95% t interval over the seeds that excludes 0 (`confirmed`), the opposite sign"
        " (`reversed`), else `inconclusive`; *after FDR*: Benjamini-Hochberg over the pairs.\n\n"
    )
    md = confirm_markdown(table, format_ops)
    atomic_write_text(args.out / "confirm.md", f"{CONFIRM_TITLE}\n\n{how}{md}")
    print(md)
    tally = ", ".join(f"{n} {v}" for v, n in sorted(table["verdict"].value_counts().items()))
    print(f"{len(table)} pair(s): {tally}; wrote {args.out / 'confirm.csv'} and confirm.md", file=sys.stderr)
    return 0


def _inputs(args: argparse.Namespace) -> dict:
    """What a subcommand read, for its manifest: the searches and random sample it compared, or the
    data it trained on."""
    if args.command == "rediscovery":
        return {"searches": [str(s) for s in args.searches],
                "random": None if args.random is None else file_identity([args.random])}
    data_dir = getattr(args, "data_dir", None)
    inputs = {"data_dir": None if data_dir is None else str(Path(data_dir).resolve())}
    if args.command == "confirm":
        inputs["search"] = str(args.search)
    return inputs


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "strategies":  # trains nothing: a replay over committed results
        check_out_folder(args.out)
        args.argv = list(argv) if argv is not None else sys.argv[1:]  # the manifest's command line
        return run_strategies(args)
    if args.command != "rediscovery":  # trains: a bad --device or BINAS_CPU_FORMAT fails before any folder
        check_runtime(getattr(args, "device", None))
    check_out_folder(args.out)
    if getattr(args, "runs", None) is not None:  # refused now, not when the first run ends
        check_out_folder(args.runs.parent, "--runs")
    start = time.time()
    command = {"claims": _claims, "edf": _edf, "rediscovery": _rediscovery, "confirm": _confirm}[args.command]
    argv = list(argv) if argv is not None else sys.argv[1:]
    manifest = Manifest(args.out, "python -m nas.analyze", argv=argv,
                        device=None if args.command == "rediscovery" else getattr(args, "device", None))
    rc = command(args)
    if rc == 0 and args.out.is_dir():  # the folder's outputs are written: say what wrote them, from what
        manifest.data = _inputs(args)
        manifest.write()
    print(f"wall time {time.time() - start:.0f} s", file=sys.stderr)
    return rc


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)
