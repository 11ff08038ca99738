"""How many proposals the search's screening step lets train, and what scoring them costs.

    python benchmarks/screening.py [--n 120] [--budget 50M] [--score synflow] [--json results/benchmarks/screening.json]

Draws N architectures within the budget from the uniform and the per-stage space (the
feasible draws the search's samplers make), scores each with the screening proxy on one
minibatch of 64 random 32x32 images as the search builds it (10 classes), and replays
:func:`nas.screening.keeps` over them in draw order (a window of 32) for several K. Prints a table
(space, K, share kept, proposals per trained architecture) and the CPU-seconds per proposal, and
writes them as JSON. The search's own counts (screened / trained per hour) are in a finished
search's report.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from proxies import zero_cost_score
from search_space import SearchSpace, analytic_cost, build_model

from .budget import parse_budget
from .screening import ZERO_COST_SCREENS, ScreenPolicy, keeps


def draw_scored(space: SearchSpace, rng: np.random.Generator, n: int, budget: float, score: str,
                x: torch.Tensor, y: torch.Tensor) -> tuple[list[tuple[float, float]], list[float]]:
    """``n`` draws of ``space`` within ``budget`` as (score, OPs), in draw order, and the CPU-seconds
    each score took (the model built and scored on ``x, y``, as the search screens a proposal)."""
    pts, cpu = [], []
    while len(pts) < n:
        arch = space.sample(rng)
        ops = analytic_cost(arch).ops()
        if ops > budget:
            continue
        t0 = time.process_time()
        torch.manual_seed(0)
        value = zero_cost_score(score, build_model(arch, 10, 32), x, y)
        cpu.append(time.process_time() - t0)
        pts.append((value, ops))
    return pts, cpu


def kept_share(pts: list[tuple[float, float]], k: int, window: int) -> float:
    """The share of ``pts`` that :func:`nas.screening.keeps` lets train at ``--screen k``, each ranked
    against the ``window`` drawn before it."""
    return float(np.mean([keeps(pt, pts[max(0, i - window):i], k)[0] for i, pt in enumerate(pts)]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=120, help="draws per space (default 120)")
    p.add_argument("--budget", default="50M")
    p.add_argument("--score", default="synflow", choices=ZERO_COST_SCREENS)
    p.add_argument("--ks", default="2,3,4,6,8", help="values of --screen to replay")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=Path("results/benchmarks/screening.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    budget = parse_budget(args.budget)
    ks = [int(k) for k in args.ks.split(",")]
    rng = np.random.default_rng(args.seed)
    window = ScreenPolicy().window
    rows, cpu = [], []
    x = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(1))
    for per_stage in (False, True):
        pts, seconds = draw_scored(SearchSpace(per_stage=per_stage), rng, args.n, budget, args.score, x, y)
        cpu += seconds
        for k in ks:
            share = kept_share(pts, k, window)
            rows.append({"space": "per-stage" if per_stage else "uniform", "k": k, "kept": share,
                         "proposals_per_trained": 1 / share, "n": len(pts)})
    result = {"score": args.score, "budget": budget, "window": window, "draws_per_space": args.n,
              "cpu_s_per_proposal_median": float(np.median(cpu)), "cpu_s_per_proposal_max": float(np.max(cpu)),
              "torch_threads": 1, "rows": rows}
    print(f"screening by {args.score}, window {window}, {args.n} within-{args.budget} draws per space;"
          f" scoring: median {result['cpu_s_per_proposal_median']:.2f} CPU-s per proposal"
          f" (max {result['cpu_s_per_proposal_max']:.2f})")
    print(f"{'space':<10} {'K':>3} {'kept':>6} {'proposals/trained':>18}")
    for r in rows:
        print(f"{r['space']:<10} {r['k']:>3} {r['kept']:>6.2f} {r['proposals_per_trained']:>18.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
