"""``python -m nas.train ARCH --data-dir D``: the full training recipe for one architecture.

ARCH is an exported ``arch.json`` (an ``ArchConfig.to_dict()``, extra keys allowed), a preset name or
an architecture string. ``--data-dir`` is a CIFAR-10 root or an ImageFolder root with ``train/`` and
``test/`` or ``val/`` (ImageNet layout); see :mod:`proxies.data.fulldata` for loading and augmentation.

Defaults, from the seed papers (``../shared/seeds/``):

* Adam, betas (0.9, 0.999): MoBiNet ("weight decay 1e-5 and momentum 0.9 with Adam optimizer");
* ``--lr 1e-3``: MoBiNet's Pre-block rate (its Mid- and Post-block use 1e-4; MobileNet-Sp gives none);
* ``--batch-size 128``: MoBiNet (MobileNet-Sp gives none);
* ``--weight-decay 1e-5``: MoBiNet; as in :mod:`proxies.scoring.train` it applies to full-precision conv and
  classifier weights only, never to binary latent weights (they only carry a sign), BN, PReLU or biases;
* ``--epochs 100``, ``--schedule poly``: MobileNet-Sp, whose comparisons (Tables 3, 4, 6, 7) train 100
  epochs "with polynomial learning rate decay" (its best model trains 450, Table 5). The power is not
  given; 1 is used (linear decay to 0 over all steps, as ReActNet does). ``--schedule step`` is MoBiNet's
  x0.1 at 30% and 90% of the epochs (Pre-block: epochs 15 and 45 of 50); ``cosine`` is offered too;
* augmentation: random crops and flips, a centre crop for evaluation (MoBiNet; details in the data module).

Selection: a stratified ``--val-size`` split (default 5,000 images, at most a tenth) is held out of ``train/``;
``eval_top1`` in ``log.csv`` is measured on it and ``best.pt`` keeps its best epoch. The test split is
used once, at the end, for the last and the best model (never for selection). ``--val-size 0`` trains on
every training image, as the papers do, and writes no ``best.pt``.

Files in ``--out`` (default: the arch.json's folder / ``train``; ``train/<preset>`` otherwise):
``last.pt`` each epoch (written to a temporary file, then renamed: model, optimizer and scheduler state,
epoch, best, RNG state, arch and settings), ``best.pt``, ``log.csv`` (epoch, lr, train_loss, train_top1,
eval_top1, seconds) and ``result.json``; checkpoints load with ``torch.load(path, weights_only=True)``.
Running the same command again resumes from ``last.pt``; ``--epochs`` may grow (the schedule stretches to
the new length), every other setting must match. Ctrl-C stops at once, keeps the last finished epoch and
exits with 130.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from proxies import DataOptions, channels_last
from proxies.data.fulldata import FullData, prepare_full_data
from proxies.data.images import resolve_data_dir
from proxies.data.runtime import check_runtime, set_threads, usable_cpus
from proxies.scoring.run import add_data_args, check_seed, split_note
from proxies.scoring.train import param_groups
from search_space import build_model
from search_space.cli import ArgumentParser, check_out_folder, choice, make_out_folder, resolve_arch, run_cli
from search_space.files import atomic_write, atomic_write_text

__all__ = ["CHECKPOINT_FORMAT", "LOG_COLUMNS", "SCHEDULES", "main"]

CHECKPOINT_FORMAT = "binas-train/1"
LOG_COLUMNS = ("epoch", "lr", "train_loss", "train_top1", "eval_top1", "seconds")
# lr factor at step t of total steps, given the steps per epoch
SCHEDULES: dict[str, Callable[[int, int, int], float]] = {
    "poly": lambda t, total, spe: max(0.0, 1.0 - t / total),
    "cosine": lambda t, total, spe: 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total)),
    "step": lambda t, total, spe: 0.1 ** sum(t // spe >= round(f * total / spe) for f in (0.3, 0.9)),
}
# settings a resumed run must share with its checkpoint (--epochs, --device, --workers, --test-subset may change)
_KEYS = (
    "arch",
    "batch_size",
    "lr",
    "weight_decay",
    "schedule",
    "seed",
    "train_subset",
    "test_fraction",
    "skip_bad_images",
)
_DATA_KEYS = ("resolution", "val_size", "classes", "train_images")
_ADDED_LATER = {"test_fraction", "skip_bad_images"}


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m nas.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("arch", help="arch.json (from nas.export), preset name or architecture string")
    p.add_argument(
        "--data-dir",
        help="CIFAR-10, or any image folder: class folders, with or without train/ and"
        " test/ (or val/) (default: $NAS_DATA_DIR, else CIFAR-10 downloaded into the user cache)",
    )
    add_data_args(p)
    p.add_argument("--out", help="run folder (default: the arch.json's folder/train, else train/<name>)")
    p.add_argument("--epochs", type=int, default=100, help="default 100 (MobileNet-Sp)")
    p.add_argument("--batch-size", type=int, default=128, help="default 128 (MoBiNet)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, default 1e-3 (MoBiNet)")
    p.add_argument("--weight-decay", type=float, default=1e-5, help="full-precision weights only; 1e-5 (MoBiNet)")
    p.add_argument(
        "--schedule",
        default="poly",
        type=choice(tuple(SCHEDULES), "name"),
        help=f"{', '.join(SCHEDULES)} (default poly: MobileNet-Sp)",
    )
    p.add_argument(
        "--resolution",
        type=int,
        help="input size: every image is resized (shorter side, then centre"
        " crop) to it, e.g. 32, 100 or 224 (default: the first image's own size if <= 64 px, else 224)",
    )
    p.add_argument("--train-subset", type=int, help="train on a stratified subset of N images (quick runs)")
    p.add_argument(
        "--val-size",
        type=int,
        help="images held out of train/ to pick best.pt (default 5000, at most a tenth; 0: none)",
    )
    p.add_argument("--test-subset", type=int, help="report test top-1 on a stratified subset of N images")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="DataLoader workers for large images (default: the usable cores, at most 8)",
    )
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        help="default: resume when --out holds last.pt of the same settings",
    )
    return p


def _check_args(args: argparse.Namespace) -> None:
    ints = {
        "--epochs": (args.epochs, 1),
        "--batch-size": (args.batch_size, 1),
        "--val-size": (args.val_size, 0),
        "--workers": (args.workers, 0),
        "--resolution": (args.resolution, 8),
        "--train-subset": (args.train_subset, 1),
        "--test-subset": (args.test_subset, 1),
    }
    for option, (value, lo) in ints.items():
        if value is not None and value < lo:
            raise ValueError(f"{option}: invalid value {value} (expected an integer >= {lo})")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr: invalid value {args.lr} (expected a number > 0)")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise ValueError(f"--weight-decay: invalid value {args.weight_decay} (expected a number >= 0)")
    check_seed(args.seed)
    if args.workers is None:
        args.workers = min(8, usable_cpus())


def _default_out(text: str, name: str, encoded: str) -> Path:
    if not name and Path(text).is_file():
        return Path(text).parent / "train"
    return Path("train") / (name or "arch-" + hashlib.sha1(encoded.encode()).hexdigest()[:10])


def _load(path: Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read checkpoint {path} ({type(exc).__name__}); move it away to start over") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint; choose another --out")
    return ckpt


def _check_same(path: Path, saved: dict, current: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key not in saved and key in _ADDED_LATER:  # a checkpoint from before binas recorded it
            continue
        if saved.get(key) != current.get(key):
            was, now = (str(v)[:60] for v in (saved.get(key), current.get(key)))
            raise ValueError(
                f"{path} was trained with {key} {was}, this run asks for {now}; use the same "
                "settings to resume, or another --out (nothing was overwritten)"
            )


def _save(obj: dict, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


@contextlib.contextmanager
def _hold_interrupt() -> Iterator[None]:
    """Defer Ctrl-C while the epoch's files are written (main thread only), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = signal.signal(signal.SIGINT, lambda sig, frame: caught.append(sig))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def _start_log(path: Path, epochs_done: int) -> None:
    """Keep the rows of the epochs the checkpoint holds (a row written after it is dropped)."""
    rows = []
    if epochs_done and path.is_file():
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("epoch", "").isdigit() and int(r["epoch"]) <= epochs_done]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, LOG_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def _append_log(path: Path, row: dict) -> None:
    with path.open("a", newline="") as f:
        csv.DictWriter(f, LOG_COLUMNS).writerow(row)


def _train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    data: FullData,
    epoch: int,
    desc: str,
) -> tuple[float, float]:
    """One epoch; returns the mean training loss and top-1 on the augmented batches."""
    model.train()
    dev = next(model.parameters()).device
    loss_sum, correct, n = torch.zeros((), device=dev), torch.zeros((), device=dev, dtype=torch.int64), 0
    with tqdm(
        data.train_epoch(epoch),
        total=data.steps_per_epoch,
        desc=desc,
        unit="batch",
        leave=False,
        file=sys.stderr,
        disable=None,
    ) as bar:
        for step, (x, y) in enumerate(bar):
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach() * len(y)  # summed on the device: no synchronisation per step
            correct += (out.argmax(1) == y).sum()
            n += len(y)
            if step % 20 == 0 and not bar.disable:
                bar.set_postfix(loss=f"{loss_sum.item() / n:.3f}", top1=f"{correct.item() / n:.1%}")
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def _top1(model: nn.Module, batches) -> float:
    model.eval()
    correct, n = 0, 0
    for x, y in batches:
        correct += int((model(x).argmax(1) == y).sum())
        n += len(y)
    return correct / n


def _open_checkpoint(last: Path, resume: bool | None, settings: dict) -> dict | None:
    """The checkpoint to resume from (checked against this run's settings), or None to start."""
    if last.exists():
        if resume is False:
            raise ValueError(
                f"--no-resume: {last} exists; choose another --out or move it away (nothing was overwritten)"
            )
        ckpt = _load(last)
        _check_same(last, ckpt.get("settings", {}), settings, _KEYS)
        return ckpt
    if resume:
        raise ValueError(f"--resume: {last} does not exist")
    return None


def _restore(
    ckpt: dict,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LambdaLR,
    lr_factor: Callable[[int], float],
    dev: torch.device,
) -> tuple[int, dict]:
    """Load model, optimizer, schedule and RNG state; returns (epochs done, best so far)."""
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    for group, base in zip(opt.param_groups, sched.base_lrs, strict=True):  # the (maybe longer) schedule's lr
        group["lr"] = base * lr_factor(sched.last_epoch)
    torch.set_rng_state(ckpt["rng"]["torch"])
    if dev.type == "cuda" and len(ckpt["rng"]["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    return int(ckpt["epoch"]), dict(ckpt["best"])


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    _check_args(args)
    arch, name = resolve_arch(args.arch)
    label = name or arch.encode()
    out = Path(args.out) if args.out else _default_out(args.arch, name, arch.encode())
    dev = check_runtime(args.device)
    if dev.type == "cpu":
        set_threads()
    settings: dict = {"arch": arch.encode(), **{k: getattr(args, k) for k in _KEYS[1:]}}
    last = out / "last.pt"
    ckpt = _open_checkpoint(last, args.resume, settings)
    check_out_folder(out)

    options = DataOptions(args.test_fraction, args.skip_bad_images)
    note = split_note(resolve_data_dir(args.data_dir), options)
    if note:
        print(note, file=sys.stderr)
    data = prepare_full_data(
        resolve_data_dir(args.data_dir),
        resolution=args.resolution,
        train_subset=args.train_subset,
        val_size=args.val_size,
        test_subset=args.test_subset,
        seed=args.seed,
        batch_size=args.batch_size,
        device=dev,
        workers=args.workers,
        options=options,
    )
    if data.skipped:
        print(f"skipped {data.skipped} unreadable image(s) (--skip-bad-images)", file=sys.stderr)
    settings.update(
        resolution=data.resolution,
        val_size=data.sizes["val"],
        classes=list(data.classes),
        train_images=data.sizes["train"],
    )
    if ckpt is not None:
        _check_same(last, ckpt["settings"], settings, _DATA_KEYS)
    spe = data.steps_per_epoch
    if spe == 0:
        raise ValueError(f"--batch-size {args.batch_size} is more than the {data.sizes['train']} training images")

    torch.manual_seed(args.seed)
    model = build_model(arch, len(data.classes), data.resolution).to(dev)
    if channels_last(dev):
        model = model.to(memory_format=torch.channels_last)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    opt = torch.optim.Adam(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.999))
    factor = SCHEDULES[args.schedule]
    total = spe * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: factor(t, total, spe))
    start, best = 0, {"epoch": 0, "val_top1": -1.0}
    if ckpt is not None:
        start, best = _restore(ckpt, model, opt, sched, lambda t: factor(t, total, spe), dev)
    make_out_folder(out)
    _start_log(out / "log.csv", start)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{label}: {params / 1e6:.2f}M parameters, {data.resolution}px, {len(data.classes)} classes on {dev}; "
        f"train/val/test {data.sizes['train']}/{data.sizes['val']}/{data.sizes['test']} images; "
        f"{start}/{args.epochs} epochs done -> {out}",
        file=sys.stderr,
    )

    done = start
    try:
        for epoch in range(start, args.epochs):
            t0 = time.perf_counter()
            lr = opt.param_groups[0]["lr"]
            loss, train_top1 = _train_epoch(model, opt, sched, data, epoch, f"epoch {epoch + 1}/{args.epochs}")
            if not math.isfinite(loss):
                print(
                    f"error: training diverged in epoch {epoch + 1} (loss {loss}); {last} holds epoch {done}",
                    file=sys.stderr,
                )
                return 1
            val = data.val()
            val_top1 = _top1(model, val) if val is not None else None
            row = {
                "epoch": epoch + 1,
                "lr": f"{lr:.6g}",
                "train_loss": f"{loss:.4f}",
                "train_top1": f"{train_top1:.4f}",
                "eval_top1": "" if val_top1 is None else f"{val_top1:.4f}",
                "seconds": f"{time.perf_counter() - t0:.1f}",
            }
            with _hold_interrupt():
                if val_top1 is not None and val_top1 > best["val_top1"]:
                    best = {"epoch": epoch + 1, "val_top1": val_top1}
                    _save(
                        {
                            "format": CHECKPOINT_FORMAT,
                            "arch": arch.encode(),
                            "settings": settings,
                            **best,
                            "model": model.state_dict(),
                        },
                        out / "best.pt",
                    )
                rng = {
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if dev.type == "cuda" else [],
                }
                _save(
                    {
                        "format": CHECKPOINT_FORMAT,
                        "arch": arch.encode(),
                        "settings": settings,
                        "epoch": epoch + 1,
                        "epochs": args.epochs,
                        "best": best,
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "rng": rng,
                    },
                    last,
                )
                _append_log(out / "log.csv", row)
                done = epoch + 1
            val_text = "" if val_top1 is None else f", val top-1 {val_top1:.2%}"
            print(
                f"epoch {epoch + 1}/{args.epochs}: loss {loss:.4f}, train top-1 {train_top1:.2%}{val_text}, "
                f"lr {lr:.3g}, {row['seconds']} s",
                file=sys.stderr,
            )

        result = {
            "arch": arch.encode(),
            "preset": name or None,
            "epochs": done,
            "test_images": data.sizes["test"],
            "test_top1": _top1(model, data.test()),
            "best_epoch": best["epoch"] or None,
            "best_val_top1": best["val_top1"] if best["epoch"] else None,
        }
        result["best_test_top1"] = result["test_top1"] if best["epoch"] in (0, done) else None
        if result["best_test_top1"] is None:
            model.load_state_dict(_load(out / "best.pt")["model"])
            result["best_test_top1"] = _top1(model, data.test())
    except KeyboardInterrupt:
        where = f"{last} holds epoch {done}" if done else "no epoch was finished"
        print(f"interrupted: {where}; run the same command to resume", file=sys.stderr)
        return 130
    atomic_write_text(out / "result.json", json.dumps({**result, "settings": settings}, indent=2) + "\n")
    best_text = (
        f"; best val top-1 {result['best_val_top1']:.2%} at epoch {result['best_epoch']}, test top-1 "
        f"{result['best_test_top1']:.2%}"
        if result["best_epoch"]
        else ""
    )
    print(
        f"{label}: test top-1 {result['test_top1']:.2%} on {result['test_images']} images after {done} epochs"
        f"{best_text} ({out})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line (bad input: one line on stderr, exit code 2)."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
