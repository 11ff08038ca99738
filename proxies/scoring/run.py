"""One entry point for every proxy, and the command-line plumbing the proxy CLIs share."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from search_space import ArchConfig, analytic_cost, build_model
from search_space.cli import choice

from ..data.folder import DEFAULT_TEST_FRACTION
from ..data.images import load_dataset, probe_layout, resolve_data_dir
from ..data.loader import DataOptions, ProxyData
from .fidelity import FIDELITIES, Fidelity, fit_to_data, get_fidelity
from .train import TrainRecipe, evaluate, proxy_arch, run_identity
from .zero_cost import BASELINES, ZERO_COST, zero_cost_score

__all__ = ["PROXIES", "add_data_args", "add_fidelity_args", "check_proxy", "check_seed", "data_options_from_args",
           "fidelity_from_args", "fit_fidelity_to_data", "run_proxy", "split_note"]

PROXIES = ("train", *ZERO_COST)


def check_proxy(name: str, option: str = "proxy") -> str:
    if name not in PROXIES:
        raise ValueError(f"{option}: unknown name {name!r} (choose from {', '.join(PROXIES)})")
    return name


def check_seed(seed: int) -> int:
    if not 0 <= seed < 2**32:
        raise ValueError(f"--seed: invalid value {seed} (expected 0 <= seed < 2**32)")
    return seed


def add_fidelity_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fidelity", default="default", type=choice(tuple(FIDELITIES), "name"),
                   help=f"base fidelity: {', '.join(FIDELITIES)}")
    p.add_argument("--epochs", type=int, help="training epochs (overrides the fidelity)")
    p.add_argument("--train-subset", type=int, help="training images (overrides the fidelity; on a data set too"
                   " small for the fidelity's, the default adapts: what --val-size leaves)")
    p.add_argument("--val-size", type=int, help="validation images held out of the training set (default: the"
                   " fidelity's, or a fifth of a smaller data set, at least 10)")
    p.add_argument("--width-scale", type=float, help="proxy width multiplier (OPs are unchanged)")
    p.add_argument("--proxy-resolution", type=int, help="input size the proxies train at: every image is resized"
                   " (shorter side, then centre crop) to it (default 32)")
    add_data_args(p)


def add_data_args(p: argparse.ArgumentParser) -> None:
    """``--test-fraction`` and ``--skip-bad-images``: how any image folder is read (proxies and nas.train)."""
    p.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION,
                   help="a data directory of class folders with no train/ and test/: the stratified share of"
                   " every class held out as its test split (default %(default)s; the same on every machine)")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="leave out images that cannot be read (and say how many) instead of stopping")


def fidelity_from_args(args: argparse.Namespace) -> Fidelity:
    """The named ``--fidelity`` with any of ``--epochs``, ``--train-subset``, ``--val-size``,
    ``--width-scale``, ``--proxy-resolution`` overriding it."""
    names = {"epochs": "epochs", "train_subset": "train_subset", "val_size": "val_size", "width_scale": "width_scale",
             "proxy_resolution": "resolution"}
    overrides = {field: getattr(args, k) for k, field in names.items() if getattr(args, k, None) is not None}
    return replace(get_fidelity(args.fidelity), **overrides)


def data_options_from_args(args: argparse.Namespace) -> DataOptions:
    return DataOptions(test_fraction=args.test_fraction, skip_bad=args.skip_bad_images)


def split_note(root, options: DataOptions) -> str | None:
    """The line that says a test split is carved out of a folder with no split (None otherwise)."""
    if probe_layout(root)[0] != "flat":
        return None
    return (f"{root} has no train/ and test/: {options.test_fraction:.0%} of every class is held out as its test"
            " split (--test-fraction), the same on every machine")


def fit_fidelity_to_data(fidelity: Fidelity, args: argparse.Namespace, options: DataOptions) -> Fidelity:
    """``fidelity`` with the validation and training sizes the user did not give fitted to the data set
    (:func:`proxies.scoring.fidelity.fit_to_data`); loads (and caches) the training split to count it."""
    root = resolve_data_dir(args.data_dir)
    note = split_note(root, options)
    if note:
        print(note, file=sys.stderr)
    train = load_dataset(root, "train", image_size=fidelity.resolution, progress=False,
                         test_fraction=options.test_fraction, skip_bad=options.skip_bad)
    if train.skipped:
        print(f"skipped {len(train.skipped)} unreadable image(s), e.g. {train.skipped[0]}", file=sys.stderr)
    return fit_to_data(fidelity, len(train.labels), val_size_given=getattr(args, "val_size", None) is not None,
                       train_subset_given=getattr(args, "train_subset", None) is not None)


def run_proxy(arch: ArchConfig, proxy: str, fidelity: Fidelity, data: ProxyData | None, seed: int = 0,
              *, progress: bool = False, recipe: TrainRecipe | None = None,
              device: str | None = None, checkpoint: Path | None = None) -> dict:
    """Score ``arch`` with ``proxy`` ("train" or a zero-cost name); higher is better.

    Returns a dict with ``proxy``, ``score`` (validation top-1 for "train"), ``seconds`` and,
    for "train", every field of :class:`ProxyResult`. The ``params`` and ``ops`` baselines
    describe ``arch`` itself, never the width-scaled network a fidelity trains: they read no image
    and build no network, and take ``data`` None.

    ``checkpoint`` ("train"): a file the training state is saved to after every epoch and resumed
    from when it holds this very run (architecture, fidelity, seed, recipe). The caller removes
    it once it has stored the result. A killed long run then loses at most one epoch.
    """
    check_proxy(proxy)
    if proxy == "train":
        return _train(arch, fidelity, data, seed, progress, recipe or TrainRecipe(), device, checkpoint)
    start = time.perf_counter()
    if proxy in BASELINES:
        cost = analytic_cost(arch)
        score = float(cost.ops() if proxy == "ops" else cost.params)
    else:
        torch.manual_seed(seed)
        model = build_model(proxy_arch(arch, fidelity), data.num_classes, fidelity.resolution)
        x, y = next(iter(data.train_loader(min(64, len(data.train_y)), seed, augment=False, drop_last=False)))
        score = zero_cost_score(proxy, model, x, y)
    return {"proxy": proxy, "score": score, "arch": arch.encode(), "fidelity": fidelity.key(),
            "seed": seed, "seconds": time.perf_counter() - start}


def _load_checkpoint(path: Path | None, identity: list) -> tuple[dict | None, float]:
    """The state saved at ``path`` and the CPU seconds spent before it, if it is of this run, else
    (None, 0): a foreign, damaged or unreadable file is said and left for the first save to replace."""
    if path is None or not path.is_file():
        return None, 0.0
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain data only
        state, cpu = saved["state"], float(saved["cpu_seconds"])
        mine = state["identity"] == identity
    except Exception as exc:
        print(f"checkpoint {path} unreadable ({type(exc).__name__}): the run starts over", file=sys.stderr)
        return None, 0.0
    if not mine:
        print(f"checkpoint {path} is of another run: this one starts over", file=sys.stderr)
        return None, 0.0
    return state, cpu


def _save_checkpoint(path: Path, state: dict, cpu_seconds: float) -> None:
    """Save atomically; a failed save (a full disk) is said and the run goes on without it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({"state": state, "cpu_seconds": cpu_seconds}, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        print(f"checkpoint {path} not saved ({exc.strerror or exc}): a kill now loses more", file=sys.stderr)


def _train(arch, fidelity, data, seed, progress, recipe, device, checkpoint=None) -> dict:
    cpu0 = time.process_time()
    resume, cpu_before = _load_checkpoint(checkpoint, run_identity(arch, fidelity, seed, recipe))
    bar = tqdm(total=fidelity.epochs * (len(data.train_y) // fidelity.batch_size), unit="step",
               desc=arch.encode()[:40], disable=not progress, leave=False, file=sys.stderr,
               initial=resume["step"] if resume else 0)
    if resume:
        bar.write(f"resumed from {checkpoint} after epoch {resume['epoch']}", file=sys.stderr)

    def tick(step: int, total: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def on_epoch(epoch: int, top1: float, loss: float) -> bool:
        bar.write(f"epoch {epoch}: val top-1 {top1:.2%}, val loss {loss:.3f}", file=sys.stderr)
        return False

    try:
        result = evaluate(arch, fidelity, data, seed, recipe=recipe, device=device,
                          progress=tick if progress else None, on_epoch=on_epoch if progress else None,
                          resume=resume,
                          on_checkpoint=None if checkpoint is None else
                          (lambda state: _save_checkpoint(checkpoint, state, cpu_before + time.process_time() - cpu0)))
    finally:
        bar.close()
    return {"proxy": "train", "score": result.val_top1, **result.to_dict(),
            "cpu_seconds": cpu_before + time.process_time() - cpu0}  # the CPU of the part before a resume too
