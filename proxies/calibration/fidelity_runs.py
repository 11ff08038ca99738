"""The run cache of the rank-fidelity benchmark: every ``(kind, fidelity, seed, arch)`` run once.

The cache is one CSV, a row per finished run, rewritten atomically after every run: a killed
benchmark loses at most the run in progress and the same command resumes. Columns:
``kind, fidelity, seed, arch, val_top1, sotl_e, score, cpu_seconds, seconds, diverged`` and,
after them, ``device`` (where it ran: ``cpu_seconds`` is host CPU time, which says little about a
GPU run), ``data`` (the resolved data folder; a cache never mixes two) and ``error`` (a run the
fidelity cannot hold, e.g. a width scale that leaves the space: recorded with NaN scores, not
retried). ``cpu_seconds`` is the ``time.process_time()`` delta of the run (every thread of the
process), ``seconds`` its wall time.

Several processes may share one cache (the fidelity benchmark and ``nas.analyze --runs``, or two
benchmarks on two cores, or machines sharing the folder): each run is claimed while it runs (a lock
file in the hidden folder ``.<cache name>.running`` beside the cache, :mod:`proxies.calibration.run_lock`), so
no two processes run it, and merged into the file on disk under an exclusive lock on its folder,
so no process overwrites another's rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from search_space import ArchConfig
from search_space.files import atomic_write_text

from ..data.images import resolve_data_dir
from ..data.loader import DataOptions, ProxyData, prepare_data
from ..data.runtime import check_runtime, set_threads
from ..scoring.run import run_proxy
from ..scoring.train import proxy_arch
from ..scoring.zero_cost import BASELINES
from . import run_lock
from .evaluators import RunSpec

__all__ = ["RUN_COLUMNS", "check_data", "load_runs", "pending", "run_all", "run_cached", "run_one", "save_runs"]

RUN_COLUMNS = ["kind", "fidelity", "seed", "arch", "val_top1", "sotl_e", "score", "cpu_seconds", "seconds",
               "diverged", "device", "data", "error", "machine"]
_REQUIRED = RUN_COLUMNS[:10]


def load_runs(path: Path, option: str = "--out") -> pd.DataFrame:
    """The runs cached in ``path`` (none if it does not exist); a file that is not a run cache is
    refused (and so never overwritten)."""
    if not path.exists():
        return pd.DataFrame(columns=RUN_COLUMNS)
    if not path.is_file():
        raise ValueError(f"{option}: {str(path)!r} exists and is not a file")
    try:
        runs = pd.read_csv(path, dtype={"kind": str, "fidelity": str, "arch": str, "data": str, "error": str,
                                        "device": str, "machine": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        runs = pd.DataFrame()
    if not set(_REQUIRED) <= set(runs.columns):
        raise ValueError(f"{option}: {str(path)!r} exists and is not a fidelity run cache (not overwritten)")
    for col in RUN_COLUMNS[10:]:
        if col not in runs.columns:
            runs[col] = pd.NA
    try:
        runs["seed"] = runs["seed"].astype(int)
    except (TypeError, ValueError):
        raise ValueError(f"{option}: {str(path)!r} has a seed that is not an integer (not overwritten)") from None
    return runs[RUN_COLUMNS]


def save_runs(runs: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, runs[RUN_COLUMNS].to_csv(index=False))


def _key(row: dict) -> tuple:
    return row["kind"], row["fidelity"], int(row["seed"]), row["arch"]


def _keys(runs: pd.DataFrame) -> set[tuple]:
    return {_key(r) for r in runs.to_dict("records")}


def _merge(path: Path, rows: list[dict], option: str) -> pd.DataFrame:
    """Add ``rows`` to the cache on disk (those another process has not added meanwhile); returns it."""
    with run_lock.folder_lock(path.parent):
        disk = load_runs(path, option)
        have = _keys(disk)
        new = [r for r in rows if _key(r) not in have]
        merged = pd.concat([disk, pd.DataFrame(new, columns=RUN_COLUMNS)], ignore_index=True) if new else disk
        if new:
            save_runs(merged, path)
        return merged


def check_data(runs: pd.DataFrame, data_key: str, path: Path, option: str = "--out") -> None:
    """Refuse to add runs on ``data_key`` to a cache that holds runs on other data."""
    other = sorted({str(d) for d in runs["data"].dropna()} - {data_key})
    if other:
        folder, _, tag = data_key.partition("|")
        their_folder, _, their_tag = other[0].partition("|")
        if their_folder == folder:  # the same folder read with other --test-fraction / --skip-bad-images
            theirs, ours = (t.replace("|", ", ").lstrip(", ") or "the defaults" for t in (their_tag, tag))
            raise ValueError(f"--skip-bad-images/--test-fraction: {str(path)!r} holds runs on {folder!r} read with"
                             f" {theirs}, not {ours} (pass the same options, or another {option})")
        raise ValueError(f"--data-dir: {str(path)!r} holds runs on {other[0]!r}, not {data_key!r} (pass that"
                         f" --data-dir, or another {option})")


def run_one(spec: RunSpec, arch: str, data: ProxyData, device: str | None = None) -> dict:
    """Run ``spec`` on ``arch``: a row of the cache (without ``data``)."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    row = {"kind": spec.kind, "fidelity": spec.fidelity.key(), "seed": spec.seed, "arch": arch,
           "val_top1": math.nan, "sotl_e": math.nan, "score": math.nan, "diverged": False, "device": "cpu",
           "error": ""}
    config = ArchConfig.decode(arch)
    try:
        if spec.kind not in BASELINES:
            proxy_arch(config, spec.fidelity)
    except ValueError as exc:  # this fidelity cannot hold the architecture: a result, not a crash
        row["error"] = str(exc)
    else:
        result = run_proxy(config, spec.kind, spec.fidelity, data, spec.seed, device=device)
        row["score"] = result["score"]
        if spec.kind == "train":
            row.update(val_top1=result["val_top1"], sotl_e=result["sotl_e"], diverged=bool(result["diverged"]),
                       device=result["device"], machine=result["machine"])
    row["cpu_seconds"] = round(time.process_time() - cpu0, 3)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def pending(specs: Sequence[RunSpec], archs: Sequence[str], runs: pd.DataFrame) -> list[tuple[RunSpec, str]]:
    """The ``(spec, arch)`` runs not in ``runs``: first every run that trains nothing (zero-cost
    scores, counts), spec by spec; then the training runs architecture by architecture (in the
    given order, each with its specs in the given order). So a stopped or partial run leaves
    every evaluator scored on the same first architectures, which is what rank fidelity compares."""
    done = _keys(runs)
    archs = list(dict.fromkeys(archs))
    cheap = [(s, a) for s in specs if s.kind != "train" for a in archs]
    trains = [(s, a) for a in archs for s in specs if s.kind == "train"]
    return [(s, a) for s, a in cheap + trains if s.key(a) not in done]


def _running_dir(path: Path) -> Path:
    """Where the lock files of the runs in progress live (hidden, beside the cache)."""
    return path.parent / f".{path.name}.running"


def run_all(todo: Sequence[tuple[RunSpec, str]], runs: pd.DataFrame, path: Path, data_for: Callable[[RunSpec],
            ProxyData], data_key: str, *, device: str | None = None, progress: bool = True,
            runner: Callable[..., dict] | None = None, option: str = "--out") -> pd.DataFrame:
    """Run ``todo`` in order, merging each run into the cache on disk as it ends; a run that another
    process has cached meanwhile, or is running now (:mod:`proxies.calibration.run_lock`), is skipped. Returns
    every run in the cache, old and new. ``data_for(spec)`` gives the data of a spec's fidelity
    (loaded on first use)."""
    runner = runner or run_one
    running = _running_dir(path)
    running.mkdir(parents=True, exist_ok=True)
    elsewhere = 0
    with tqdm(total=len(todo), unit="run", disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        for spec, arch in todo:
            key = spec.key(arch)

            def done(key=key) -> bool:
                nonlocal runs
                if path.exists():
                    runs = load_runs(path, option)
                return key in _keys(runs)

            lock = running / f"{hashlib.sha1(repr(key).encode()).hexdigest()[:20]}.lock"
            if not run_lock.claim(lock, done):
                elsewhere += key not in _keys(runs)  # runs: as claim's check just read them
                bar.update(1)
                continue
            with run_lock.holding(lock):
                bar.set_description(f"{spec.kind} {spec.fidelity.key()} s{spec.seed}", refresh=False)
                bar.set_postfix_str(arch[:40])
                row = runner(spec, arch, data_for(spec), device)
                row["data"] = data_key
                runs = _merge(path, [row], option)
            bar.update(1)
    with run_lock.folder_lock(path.parent), contextlib.suppress(OSError):
        running.rmdir()  # only when empty: no other process is running any (claims make it again)
    if elsewhere:
        print(f"{elsewhere} run(s) left to the other process(es) running them", file=sys.stderr)
    return runs[RUN_COLUMNS].reset_index(drop=True)


def run_cached(specs: Sequence[RunSpec], archs: Sequence[str], path: Path, *, data_dir: str | None,
               option: str = "--out", limit: int | None = None, device: str | None = None,
               threads: int | None = None, progress: bool = True, options: DataOptions | None = None,
               data_seed: int = 0) -> pd.DataFrame:
    """Every ``(spec, arch)`` run, from the cache at ``path`` or run now (at most ``limit`` new ones),
    the data of each fidelity loaded once (``data_seed`` fixes its selection). Returns the whole
    cache. Ctrl-C keeps every finished run and says how to resume (then re-raises)."""
    runs = load_runs(path, option)
    check_runtime(device)  # a bad --device or BINAS_CPU_FORMAT fails before any data loads
    todo = pending(specs, archs, runs)
    todo = todo[:limit] if limit is not None else todo
    data_key = str(resolve_data_dir(data_dir).resolve()) + (options or DataOptions()).tag()
    check_data(runs, data_key, path, option)
    print(f"{len(todo)} run(s) to do, {len(runs)} cached in {path}", file=sys.stderr, flush=True)
    if not todo:
        return runs
    set_threads(threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    loaded: dict[tuple, ProxyData] = {}

    def data_for(spec: RunSpec) -> ProxyData:
        f = spec.fidelity
        key = (f.train_subset, f.val_size, f.resolution)
        if key not in loaded:
            loaded[key] = prepare_data(data_dir, f.train_subset, f.val_size, data_seed, image_size=f.resolution,
                                       progress=progress, options=options)
        return loaded[key]

    try:
        return run_all(todo, runs, path, data_for, data_key, device=device, progress=progress, option=option)
    except KeyboardInterrupt:
        print(f"stopped: finished runs are in {path}; the same command resumes", file=sys.stderr)
        raise
