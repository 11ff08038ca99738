"""How fast the analytic counter filters candidates, next to fvcore on built models.

    python benchmarks/analytic_ops_speed.py [--n 10000] [--fvcore-n 20] [--json out.json]

Samples N architectures from the default SearchSpace and computes their analytic OPs
(the budget filter of the search), then counts a few with fvcore for comparison.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .builder import analytic_cost
from .ops import count_ops
from .space import SearchSpace


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--fvcore-n", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=Path("analytic_ops_speed.json"))
    args = p.parse_args(argv)
    space = SearchSpace()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    archs = [space.sample(rng) for _ in range(args.n)]
    t1 = time.perf_counter()
    ops = [analytic_cost(a).ops() for a in archs]
    t2 = time.perf_counter()
    t3 = time.perf_counter()
    for a in archs[: args.fvcore_n]:
        count_ops(a)
    t4 = time.perf_counter()
    result = {
        "n": args.n,
        "sample_s": t1 - t0,
        "analytic_s": t2 - t1,
        "total_s": t2 - t0,
        "archs_per_s": args.n / (t2 - t0),
        "fvcore_n": args.fvcore_n,
        "fvcore_s_per_arch": (t4 - t3) / max(1, args.fvcore_n),
        "under_50M": sum(o <= 50e6 for o in ops),
    }
    print(f"{'step':32s} {'seconds':>9s}")
    print(f"{'sample ' + str(args.n):32s} {result['sample_s']:9.3f}")
    print(f"{'analytic OPs of ' + str(args.n):32s} {result['analytic_s']:9.3f}")
    print(f"{'total':32s} {result['total_s']:9.3f}   ({result['archs_per_s']:,.0f} archs/s)")
    print(f"{'fvcore, per architecture':32s} {result['fvcore_s_per_arch']:9.3f}")
    print(f"{args.n} samples, {result['under_50M']} within 50M OPs")
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return 0
