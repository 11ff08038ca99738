"""``python -m proxies.evaluate ARCH --data-dir D``: how good is one architecture, cheaply.

ARCH is a preset name, an architecture string or a JSON file. The default proxy trains the
network briefly (``--epochs``, ``--train-subset``) and reports validation top-1 on a split
held out of the training set; ``--proxy NAME`` picks a zero-cost proxy instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

import torch
from tqdm import tqdm

from search_space import ArchConfig, analytic_cost, build_model
from search_space.cli import resolve_arch, run_cli

from .data import ProxyData, prepare_data
from .fidelity import FIDELITIES, Fidelity, get_fidelity
from .train import TrainRecipe, evaluate, proxy_arch, set_threads
from .zero_cost import ZERO_COST, zero_cost_score

__all__ = ["PROXIES", "main", "run_proxy"]

PROXIES = ("train", *ZERO_COST)


def run_proxy(arch: ArchConfig, proxy: str, fidelity: Fidelity, data: ProxyData, seed: int = 0,
              *, progress: bool = False, recipe: TrainRecipe | None = None,
              device: str | None = None) -> dict:
    """Score ``arch`` with ``proxy`` ("train" or a zero-cost name); higher is better.

    Returns a dict with ``proxy``, ``score`` (validation top-1 for "train"), ``seconds`` and,
    for "train", every field of :class:`ProxyResult`.
    """
    if proxy not in PROXIES:
        raise ValueError(f"proxy: unknown name {proxy!r} (choose from {', '.join(PROXIES)})")
    if proxy == "train":
        bar = tqdm(total=fidelity.epochs * (len(data.train_y) // fidelity.batch_size), unit="step",
                   desc=arch.encode()[:40], disable=not progress, leave=False, file=sys.stderr)

        def tick(step: int, total: int, loss: float) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

        def on_epoch(epoch: int, top1: float, loss: float) -> bool:
            bar.write(f"epoch {epoch}: val top-1 {top1:.2%}, val loss {loss:.3f}", file=sys.stderr)
            return False

        try:
            result = evaluate(arch, fidelity, data, seed, recipe=recipe, device=device,
                              progress=tick if progress else None, on_epoch=on_epoch if progress else None)
        finally:
            bar.close()
        return {"proxy": proxy, "score": result.val_top1, **result.to_dict()}
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(proxy_arch(arch, fidelity), data.num_classes, fidelity.resolution)
    x, y = next(iter(data.train_loader(min(64, len(data.train_y)), seed, augment=False, drop_last=False)))
    score = zero_cost_score(proxy, model, x, y)
    return {"proxy": proxy, "score": score, "arch": arch.encode(), "fidelity": fidelity.key(),
            "seed": seed, "seconds": time.perf_counter() - start}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m proxies.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("arch", help="preset name, architecture string or JSON file")
    p.add_argument("--data-dir", help="CIFAR-10 (torchvision root or ImageFolder with train/ and test/);"
                   " default: $NAS_DATA_DIR, else a download into the user cache")
    p.add_argument("--fidelity", default="default", help=f"base fidelity: {', '.join(FIDELITIES)}")
    p.add_argument("--epochs", type=int, help="training epochs (overrides the fidelity)")
    p.add_argument("--train-subset", type=int, help="training images (overrides the fidelity)")
    p.add_argument("--val-size", type=int, help="validation images held out of the training set")
    p.add_argument("--width-scale", type=float, help="proxy width multiplier (OPs are unchanged)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--proxy", default="train", help=f"one of: {', '.join(PROXIES)}")
    p.add_argument("--lr", type=float, help="peak learning rate of the training proxy")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    arch, name = resolve_arch(args.arch)
    if args.proxy not in PROXIES:
        raise ValueError(f"--proxy: unknown name {args.proxy!r} (choose from {', '.join(PROXIES)})")
    fidelity = get_fidelity(args.fidelity)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("train_subset", args.train_subset),
                                   ("val_size", args.val_size), ("width_scale", args.width_scale))
                 if v is not None}
    fidelity = replace(fidelity, **overrides)
    recipe = TrainRecipe(lr=args.lr) if args.lr is not None else None
    set_threads()
    t0 = time.perf_counter()
    data = prepare_data(args.data_dir, fidelity.train_subset, fidelity.val_size, args.seed,
                        progress=not args.json)
    out = run_proxy(arch, args.proxy, fidelity, data, args.seed, progress=True, recipe=recipe,
                    device=args.device)
    out["preset"] = name or None
    out["ops"] = analytic_cost(arch).ops()
    out["data_seconds"] = t0 and (time.perf_counter() - t0 - out["seconds"])
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        label = "validation top-1" if args.proxy == "train" else f"{args.proxy} score"
        value = f"{out['score']:.2%}" if args.proxy == "train" else f"{out['score']:.6g}"
        print(f"{name or arch.encode()}: {label} {value}  ({out['seconds']:.1f} s,"
              f" OPs {out['ops'] / 1e6:.2f}M)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
