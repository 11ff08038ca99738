"""``python -m proxies.reference --data-dir D``: train the reference set, the yardstick of rank fidelity.

The set (``archs.csv``, fixed on the first run): the seed presets within ``--max-ops``, every Sp
Table 7 width/depth preset, and a stratified sample of uniform and per-stage architectures under
``--max-ops`` (:mod:`proxies.calibration.reference_set`). Each is trained at the reference fidelity, 6 epochs
x 10,000 images (10x the images of the default proxy), learning rate annealed to ~0, flips and
4-pixel random crops; ``--two-seeds`` of them are trained with a second seed, to measure the
reference's own noise. The training seed changes initialisation and batch order; the data
selection (training subset, validation split) is the same for every run. Test top-1 is on the
whole test split, which no proxy ever sees.

Every finished run is a file in ``runs/``, claimed by a lock file while it trains, and a run in
progress saves its state after every epoch (``runs/<run>.ckpt``, removed when it ends): a killed
run loses at most the epoch in progress, the same command resumes, and several processes (or machines
sharing the folder) can work on one set. ``reference.csv`` (one row per architecture and seed)
and the noise summary (``summary.csv``, ``summary.json``) are rewritten after every run.
Nothing is ever tuned against this set: it is only measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from search_space import ArchConfig, analytic_cost
from search_space.cli import ArgumentParser, check_out_folder, make_out_folder, run_cli
from search_space.files import atomic_write_text

from ..data.loader import ProxyData, prepare_data
from ..data.runtime import check_runtime, set_threads
from ..scoring.fidelity import Fidelity
from ..scoring.run import check_seed, run_proxy
from ..scoring.train import TrainRecipe
from ..stats import kendall, rank_ci, spearman
from . import run_lock
from .evaluators import is_diverged
from .reference_set import arch_features, reference_presets, stratified_sample

__all__ = ["REFERENCE_FIDELITY", "REFERENCE_RECIPE", "main", "read_reference", "reference_truth"]

REFERENCE_FIDELITY = Fidelity(epochs=6, train_subset=10_000, val_size=2_000)
REFERENCE_RECIPE = TrainRecipe(crop_pad=4)
DATA_SEED = 0
ARCH_COLUMNS = ["index", "name", "origin", "arch", "ops_m", "seeds"]
SELECTION_DEFAULTS = {"n_uniform": 11, "n_per_stage": 11, "two_seeds": 12, "max_ops": 60e6, "select_seed": 0}


# --- the set ------------------------------------------------------------------------------------------


def build_archs(n_uniform: int, n_per_stage: int, two_seeds: int, max_ops: float, seed: int) -> pd.DataFrame:
    """The reference architectures, presets and samples interleaved, the first ``two_seeds`` with 2 seeds."""
    presets = [(name, "preset", arch) for name, arch in reference_presets(max_ops)]
    counts: Counter = Counter()
    sampled = [(f"{origin}{i}", origin, arch) for i, (origin, arch) in enumerate(
        stratified_sample(n_uniform, n_per_stage, max_ops=max_ops, seed=seed, counts=counts,
                          exclude={a for _, _, a in presets}))]
    order = [x for pair in zip(presets, sampled, strict=False) for x in pair]
    order += presets[len(sampled):] + sampled[len(presets):]
    if not 0 <= two_seeds <= len(order):
        raise ValueError(f"--two-seeds: {two_seeds} is not within 0..{len(order)} (the set's size)")
    return pd.DataFrame([{"index": i, "name": name, "origin": origin, "arch": arch.encode(),
                          "ops_m": round(analytic_cost(arch).ops() / 1e6, 3), "seeds": 2 if i < two_seeds else 1}
                         for i, (name, origin, arch) in enumerate(order)], columns=ARCH_COLUMNS)


def coverage(archs: pd.DataFrame) -> pd.Series:
    """How many architectures of the set exercise each choice value."""
    counts: Counter = Counter()
    for a in archs["arch"]:
        counts.update(arch_features(ArchConfig.decode(a)))
    return pd.Series(dict(sorted(counts.items())), name="archs")


def jobs(archs: pd.DataFrame) -> list[tuple[str, str, int]]:
    """``(name, arch, seed)`` in run order: seed 0 of every architecture, then the second seeds."""
    first = [(r.name, r.arch, 0) for r in archs.itertuples()]
    return first + [(r.name, r.arch, 1) for r in archs.itertuples() if r.seeds >= 2]


def run_key(arch: str, seed: int) -> str:
    return f"{hashlib.sha1(arch.encode()).hexdigest()[:12]}-s{seed}"


# --- claims: one lock file per run in progress (proxies.calibration.run_lock) --------------------------------------


def claim(runs: Path, key: str) -> bool:
    """Take the run ``key`` (False if it is done or another live process has it)."""
    return run_lock.claim(runs / f"{key}.lock", lambda: (runs / f"{key}.json").exists())


# --- tables -------------------------------------------------------------------------------------------


def read_reference(out: Path) -> pd.DataFrame:
    """Every finished run in ``out/runs`` as the rows of ``reference.csv``."""
    rows = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    cols = ["arch", "seed", "fidelity", "val_top1", "test_top1", "seconds", "cpu_seconds", "name",
            "device", "threads", "diverged", "machine"]  # machine: runs from before 2026-11-30 lack it
    table = pd.DataFrame(rows, columns=cols)
    table["diverged"] = table["diverged"].fillna(False).astype(bool)  # runs from before the column: none diverged
    return table


def reference_truth(ref: pd.DataFrame, column: str = "test_top1") -> pd.Series:
    """Mean ``column`` per architecture over its seeds: what evaluators are measured against. A run
    that diverged counts as top-1 0, the worst (its architecture is not dropped from the yardstick)."""
    return _scored(ref, column).groupby("arch")[column].mean()


def _scored(ref: pd.DataFrame, column: str = "test_top1") -> pd.DataFrame:
    """``ref`` with the ``column`` of diverged runs at 0 (the worst), as every table here counts them."""
    if "diverged" not in ref.columns:
        return ref
    return ref.assign(**{column: ref[column].where(~ref["diverged"].map(is_diverged), 0.0)})


def summarize(ref: pd.DataFrame, archs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per-architecture mean and std over seeds, and the reference's own seed-to-seed agreement
    (a diverged run at test top-1 0, as :func:`reference_truth` counts it)."""
    ref = _scored(ref)
    g = ref.groupby("arch")
    per = pd.DataFrame({"runs": g.size(), "test_top1_mean": g["test_top1"].mean(),
                        "test_top1_std": g["test_top1"].std(), "val_top1_mean": g["val_top1"].mean(),
                        "val_top1_std": g["val_top1"].std(), "seconds_mean": g["seconds"].mean()})
    summary = archs.set_index("arch")[["index", "name", "origin", "ops_m", "seeds"]].join(per, how="inner")
    summary = summary.reset_index().sort_values("index")[["index", "name", "origin", "arch", "ops_m", "seeds",
                                                          "runs", "test_top1_mean", "test_top1_std",
                                                          "val_top1_mean", "val_top1_std", "seconds_mean"]]
    pair = ref.pivot_table(index="arch", columns="seed", values="test_top1")
    both = pair.dropna(subset=[0, 1]) if {0, 1} <= set(pair.columns) else pair.iloc[:0]
    a, b = (both[0].to_numpy(), both[1].to_numpy()) if len(both) else ([], [])
    noise = {
        "archs": int(len(per)), "runs": int(len(ref)), "archs_in_set": int(len(archs)),
        "runs_in_set": int(archs["seeds"].sum()), "two_seed_archs": int(len(both)),
        "seed_kendall": kendall(a, b) if len(both) >= 2 else float("nan"),
        "seed_kendall_ci95": list(rank_ci(a, b, "kendall")) if len(both) >= 3 else [float("nan")] * 2,
        "seed_spearman": spearman(a, b) if len(both) >= 2 else float("nan"),
        "seed_std_mean": float(per.loc[per["runs"] >= 2, "test_top1_std"].mean()) if len(both) else float("nan"),
        "seed_abs_diff_max": float(abs(both[0] - both[1]).max()) if len(both) else float("nan"),
        "test_top1_range": [float(per["test_top1_mean"].min()), float(per["test_top1_mean"].max())]
        if len(per) else [float("nan")] * 2,
        "cpu_seconds_total": float(ref["cpu_seconds"].sum()),
    }
    return summary, noise


def _nulls(value):
    """NaN as JSON null (plain JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulls(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def write_tables(out: Path, archs: pd.DataFrame) -> dict:
    ref = read_reference(out)
    atomic_write_text(out / "reference.csv", ref.drop(columns=["threads"]).to_csv(index=False))
    summary, noise = summarize(ref, archs)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False, float_format="%.5g"))
    atomic_write_text(out / "summary.json", json.dumps(_nulls(noise), indent=2) + "\n")
    return noise


# --- the run ------------------------------------------------------------------------------------------


def _meta(fidelity: Fidelity, recipe: TrainRecipe, test_subset: int | None) -> dict:
    return {"format": "binas-reference/1", "fidelity": fidelity.key(), "recipe": asdict(recipe),
            "data_seed": DATA_SEED, "test_subset": test_subset}


def _open_set(out: Path, args: argparse.Namespace, meta: dict) -> pd.DataFrame:
    """``archs.csv`` and ``meta.json`` of ``out``, created on the first run, refused if they differ.
    The selection flags choose a new set: given for an existing one, they are refused, not ignored."""
    meta_file, archs_file = out / "meta.json", out / "archs.csv"
    given = {k: getattr(args, k) for k in SELECTION_DEFAULTS if getattr(args, k) is not None}
    if meta_file.exists():
        try:
            old = json.loads(meta_file.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if not isinstance(old, dict):
            raise ValueError(f"--out: {str(meta_file)!r} is not a reference set's meta.json (not touched)")
        stored = old.pop("selection", None)
        if old != meta:
            raise ValueError(f"--out: {str(out)!r} holds a reference set at {old.get('fidelity')!r}, not"
                             f" {meta['fidelity']!r} (pass the same --epochs/--train-subset/--val-size/"
                             "--test-subset, or another --out)")
        archs = _read_archs(archs_file)
        # a set from before the selection was stored: what archs.csv shows of it (the OPs limit and
        # the sample's seed cannot be read back, so they are not checked)
        chosen = stored if isinstance(stored, dict) else {
            "n_uniform": int((archs["origin"] == "uniform").sum()),
            "n_per_stage": int((archs["origin"] == "per-stage").sum()), "two_seeds": int((archs["seeds"] == 2).sum())}
        for key, value in given.items():
            if key in chosen and value != chosen[key]:
                flag = "--" + key.replace("_", "-")
                raise ValueError(f"{flag}: invalid value {value:g} for the reference set in {str(out)!r}, chosen with"
                                 f" {flag} {chosen[key]:g} (drop {flag}, or pass another --out for a new set)")
        return archs
    sel = {**SELECTION_DEFAULTS, **given}
    check_seed(sel["select_seed"])
    archs = build_archs(sel["n_uniform"], sel["n_per_stage"], sel["two_seeds"], sel["max_ops"], sel["select_seed"])
    meta = {**meta, "selection": sel}
    make_out_folder(out)
    (out / "runs").mkdir(exist_ok=True)
    atomic_write_text(archs_file, archs.to_csv(index=False))
    atomic_write_text(meta_file, json.dumps(meta, indent=2) + "\n")
    return archs


def _read_archs(path: Path) -> pd.DataFrame:
    try:
        archs = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"--out: cannot read the reference set's {str(path)!r} ({type(exc).__name__}; it is written"
                         " with meta.json on the first run: restore it, or pass another --out)") from None
    missing = [c for c in ARCH_COLUMNS if c not in archs.columns]
    if missing:
        raise ValueError(f"--out: {str(path)!r} lacks the column {missing[0]!r} (not a reference set's archs.csv)")
    return archs


def _train_one(name: str, arch: str, seed: int, fidelity: Fidelity, recipe: TrainRecipe, data: ProxyData,
               device: str | None, threads: int, checkpoint: Path | None = None) -> dict:
    """One reference run; ``checkpoint``: its epoch checkpoint (a killed run resumes from its last
    epoch). Seconds and CPU seconds count the part before a resume too."""
    result = run_proxy(ArchConfig.decode(arch), "train", fidelity, data, seed, recipe=recipe, device=device,
                       progress=True, checkpoint=checkpoint)
    return {"arch": arch, "seed": seed, "fidelity": f"{fidelity.key()}-crop{recipe.crop_pad}",
            "val_top1": result["val_top1"], "test_top1": result["test_top1"],
            "seconds": round(result["seconds"], 2), "cpu_seconds": round(result["cpu_seconds"], 2),
            "name": name, "device": result["device"], "threads": threads, "diverged": result["diverged"],
            "machine": result["machine"]}


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m proxies.reference", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help="CIFAR-10 (default: $NAS_DATA_DIR, else a download into the user cache)")
    p.add_argument("--out", type=Path, default=Path("results/reference"), help="default: %(default)s")
    sel = SELECTION_DEFAULTS  # these choose a new set only (archs.csv): refused once the set exists
    p.add_argument("--n-uniform", type=int, help=f"sampled uniform architectures (default {sel['n_uniform']})")
    p.add_argument("--n-per-stage", type=int, help=f"sampled per-stage architectures (default {sel['n_per_stage']})")
    p.add_argument("--two-seeds", type=int, help=f"architectures trained with 2 seeds (default {sel['two_seeds']})")
    p.add_argument("--max-ops", type=float, help=f"OPs limit of the sample (default {sel['max_ops']:g})")
    p.add_argument("--select-seed", type=int, help=f"seed of the stratified sample (default {sel['select_seed']})")
    p.add_argument("--epochs", type=int, help=f"reference epochs (default {REFERENCE_FIDELITY.epochs})")
    p.add_argument("--train-subset", type=int, help=f"training images (default {REFERENCE_FIDELITY.train_subset})")
    p.add_argument("--val-size", type=int, help=f"validation images (default {REFERENCE_FIDELITY.val_size})")
    p.add_argument("--test-subset", type=int, help="test images (default: the whole test split)")
    p.add_argument("--limit", type=int, help="stop after this many runs (default: all)")
    p.add_argument("--threads", type=int, help="CPU threads (default: every core; 1 per process when"
                   " several processes share the machine)")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    p.add_argument("--summary", action="store_true", help="only rewrite reference.csv and the summary")
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    overrides = {k: getattr(args, k) for k in ("epochs", "train_subset", "val_size") if getattr(args, k) is not None}
    fidelity = replace(REFERENCE_FIDELITY, **overrides)
    for flag, value in (("--limit", args.limit), ("--threads", args.threads), ("--test-subset", args.test_subset)):
        if value is not None and value < 1:
            raise ValueError(f"{flag}: invalid value {value} (expected >= 1)")
    check_runtime(args.device)
    check_out_folder(args.out)
    archs = _open_set(args.out, args, _meta(fidelity, REFERENCE_RECIPE, args.test_subset))
    if args.summary:
        print(json.dumps(write_tables(args.out, archs), indent=2))
        return 0
    threads = set_threads(args.threads)
    runs = args.out / "runs"
    todo = [j for j in jobs(archs) if not (runs / f"{run_key(j[1], j[2])}.json").exists()]
    total = len(jobs(archs))
    print(f"reference set: {len(archs)} architectures, {total} runs, {total - len(todo)} done;"
          f" {fidelity.key()}, {threads} thread(s)", file=sys.stderr, flush=True)
    data = None
    done_now = 0
    for name, arch, seed in todo:
        if args.limit is not None and done_now >= args.limit:
            break
        key = run_key(arch, seed)
        if not claim(runs, key):
            continue
        with run_lock.holding(runs / f"{key}.lock"):
            if data is None:
                data = prepare_data(args.data_dir, fidelity.train_subset, fidelity.val_size, DATA_SEED,
                                    with_test=True, test_subset=args.test_subset)
            ckpt = runs / f"{key}.ckpt"
            row = _train_one(name, arch, seed, fidelity, REFERENCE_RECIPE, data, args.device, threads,
                             checkpoint=ckpt)
            atomic_write_text(runs / f"{key}.json", json.dumps(row) + "\n")
            ckpt.unlink(missing_ok=True)  # only once the result is stored
        done_now += 1
        noise = write_tables(args.out, archs)
        print(f"[{noise['runs']}/{total}] {name} seed {seed}: test top-1 {row['test_top1']:.2%}, val"
              f" {row['val_top1']:.2%} ({row['seconds']:.0f} s)", file=sys.stderr, flush=True)
    noise = write_tables(args.out, archs)
    print(f"{noise['runs']}/{total} runs done; seed-to-seed Kendall tau {noise['seed_kendall']:.3f}"
          f" over {noise['two_seed_archs']} architectures", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
