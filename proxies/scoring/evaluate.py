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

from search_space import analytic_cost
from search_space.cli import ArgumentParser, choice, resolve_arch, run_cli

from ..data.loader import prepare_data
from ..data.runtime import check_runtime, set_threads
from .run import (
    PROXIES,
    add_fidelity_args,
    check_seed,
    data_options_from_args,
    fidelity_from_args,
    fit_fidelity_to_data,
    run_proxy,
)
from .train import TrainRecipe

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m proxies.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("arch", help="preset name, architecture string or JSON file")
    p.add_argument("--data-dir", help="CIFAR-10 or any image folder (class folders, with or without train/ and"
                   " test/; see README 'Your own data'); default: $NAS_DATA_DIR, else a download of CIFAR-10")
    add_fidelity_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--proxy", default="train", type=choice(PROXIES, "name"), help=f"one of: {', '.join(PROXIES)}")
    p.add_argument("--lr", type=float, help="peak learning rate of the training proxy")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    arch, name = resolve_arch(args.arch)
    check_seed(args.seed)
    fidelity = fidelity_from_args(args)
    options = data_options_from_args(args)
    recipe = TrainRecipe(lr=args.lr) if args.lr is not None else None
    check_runtime(args.device)  # a bad --device fails here, before any data is loaded
    set_threads()
    t0 = time.perf_counter()
    fidelity = fit_fidelity_to_data(fidelity, args, options)
    data = prepare_data(args.data_dir, fidelity.train_subset, fidelity.val_size, args.seed,
                        image_size=fidelity.resolution, progress=not args.json, options=options)
    data_seconds = time.perf_counter() - t0
    out = run_proxy(arch, args.proxy, fidelity, data, args.seed, progress=True, recipe=recipe,
                    device=args.device)
    out["preset"] = name or None
    out["ops"] = analytic_cost(arch).ops()
    out["data_seconds"] = data_seconds
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
