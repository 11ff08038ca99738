"""Training throughput of binary presets next to their float twins, and how much of the
machine's float32 matmul rate the proxy training reaches.

    python benchmarks/proxy_throughput.py [--presets a,b,c] [--steps 20] [--batch 64] [--json out.json]

For every preset: the binary network and its float twin (every binary conv a float conv,
every binarizer removed: proxies.float_twin) train on the same random 32x32 batches,
alternating one step each, after warm-up steps. The achieved rate counts 3 x the
network's MACs per image (forward, and backward for inputs and weights) x 2 flops per MAC,
binary MACs included (they run as float convolutions on the CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from search_space import PRESETS, analytic_cost, build_model

from ..data.runtime import set_threads
from .zero_cost import float_twin

DEFAULT = "bin_mobilenet_sp,bin_mobilenet_l,bin_mobilenet_sp_copy,mobinet_mid_k3_prelu,mobinet_pre_k0_prelu"


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def timed_step(model, opt, x, y) -> float:
    """Seconds one training step (forward, backward, optimiser step) of ``model`` on ``x, y`` takes."""
    t = time.perf_counter()
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t


def measure(name: str, steps: int, batch: int, warmup: int = 3) -> dict:
    torch.manual_seed(0)
    arch = PRESETS[name].arch
    binary = build_model(arch, 10, 32)
    twin = float_twin(binary)
    models = {"binary": binary, "float": twin}
    opts = {k: torch.optim.Adam(m.parameters(), 1e-3) for k, m in models.items()}
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    times = {"binary": 0.0, "float": 0.0}
    for i in range(warmup + steps):
        for k in ("binary", "float") if i % 2 == 0 else ("float", "binary"):
            dt = timed_step(models[k], opts[k], x, y)
            if i >= warmup:
                times[k] += dt
    cost = analytic_cost(arch, 10, 32)
    macs = cost.fp_macs + cost.binary_macs
    ips = {k: steps * batch / t for k, t in times.items()}
    return {
        "preset": name, "macs_per_image": macs,
        "binary_img_s": ips["binary"], "float_img_s": ips["float"],
        "step_ratio": times["binary"] / times["float"],
        "binary_gflops": 6 * macs * ips["binary"] / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default=DEFAULT)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--json", type=Path, default=Path("proxy_throughput.json"))
    args = p.parse_args(argv)
    names = args.presets.split(",")
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        print(f"error: --presets: unknown preset {unknown[0]!r}", file=sys.stderr)
        return 2
    threads = set_threads()
    peak = matmul_gflops()
    rows = [measure(n, args.steps, args.batch) for n in names]
    peak_after = matmul_gflops()
    peak = max(peak, peak_after)
    print(f"threads {threads}, float32 matmul (1024^2): {peak:.1f} GFLOP/s, batch {args.batch}, 32x32")
    print(f"{'preset':26s} {'bin img/s':>9s} {'fp img/s':>9s} {'bin/fp step':>11s} {'GFLOP/s':>8s} {'of peak':>7s}")
    for r in rows:
        r["fraction_of_matmul_peak"] = r["binary_gflops"] / peak
        print(f"{r['preset']:26s} {r['binary_img_s']:9.1f} {r['float_img_s']:9.1f} {r['step_ratio']:11.3f}"
              f" {r['binary_gflops']:8.1f} {r['fraction_of_matmul_peak']:7.1%}")
    result = {"threads": threads, "matmul_gflops": peak, "batch": args.batch, "steps": args.steps,
              "rows": rows}
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")
    return 0
