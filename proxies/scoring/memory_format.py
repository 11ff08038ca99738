"""Proxy training step time on the CPU in NCHW (contiguous) and NHWC (channels_last) memory format.

    python benchmarks/memory_format.py [--archs reference|presets|A,B,...] [--steps 8] [--threads 1]
                                       [--batch 32] [--resolution 32]
                                       [--json results/benchmarks/memory_format.json]

For every architecture, two copies of the same network (same initialisation) train on the same
random batches (32x32, as the proxies train, unless ``--resolution``), one in each format,
alternating one step each (the order flips every step), after warm-up steps; the table gives the
median step time of each and their ratio. The summary weighs the architectures as a training run
does: the ratio of the summed step times.
``reference`` takes the architectures of ``results/reference/archs.csv``.

The two formats run other oneDNN kernels, so their results differ in float rounding (the
benchmark reports the largest logit difference at initialisation): a seed's numbers repeat only
within one format, as within one machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import pandas as pd
import torch

from search_space import SEED_PRESETS, build_model, resolve_arch

from ..data.runtime import set_threads
from .throughput import timed_step

FORMATS = {"nchw": torch.contiguous_format, "nhwc": torch.channels_last}
REFERENCE_ARCHS = Path(__file__).resolve().parents[2] / "results" / "reference" / "archs.csv"


def measure(label: str, arch, steps: int, batch: int, resolution: int = 32, warmup: int = 2) -> dict:
    torch.manual_seed(0)
    base = build_model(arch, 10, resolution)
    state = base.state_dict()
    models, opts, xs = {}, {}, {}
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, resolution, resolution, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    for name, fmt in FORMATS.items():
        m = build_model(arch, 10, resolution)
        m.load_state_dict(state)
        models[name] = m.to(memory_format=fmt)
        opts[name] = torch.optim.Adam(models[name].parameters(), 1e-3)
        xs[name] = x.contiguous(memory_format=fmt)
    with torch.no_grad():
        diff = (models["nchw"].eval()(xs["nchw"]) - models["nhwc"].eval()(xs["nhwc"])).abs().max().item()
    for m in models.values():
        m.train()
    times: dict[str, list[float]] = {k: [] for k in FORMATS}
    for i in range(warmup + steps):
        for k in ("nchw", "nhwc") if i % 2 == 0 else ("nhwc", "nchw"):
            dt = timed_step(models[k], opts[k], xs[k], y)
            if i >= warmup:
                times[k].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"arch": label, "nchw_ms": 1e3 * med["nchw"], "nhwc_ms": 1e3 * med["nhwc"],
            "speedup": med["nchw"] / med["nhwc"], "max_logit_diff": diff}


def _archs(spec: str) -> list[tuple[str, object]]:
    if spec == "reference":
        if not REFERENCE_ARCHS.exists():
            raise ValueError(f"--archs: reference needs {REFERENCE_ARCHS} (run python -m proxies.reference)")
        table = pd.read_csv(REFERENCE_ARCHS)
        return [(row.name, resolve_arch(row.arch)[0]) for row in table.itertuples()]
    names = SEED_PRESETS if spec == "presets" else [s for s in spec.split(",") if s]
    out = []
    for name in names:
        try:
            out.append((name, resolve_arch(name)[0]))
        except ValueError as e:
            raise ValueError(f"--archs: {name!r}: {e}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="reference", help="reference, presets or a comma list of presets/codes")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--resolution", type=int, default=32, help="input size (the proxies train at 32)")
    p.add_argument("--json", type=Path, default=Path("results/benchmarks/memory_format.json"))
    args = p.parse_args(argv)
    for flag in ("steps", "batch", "threads", "resolution"):
        if getattr(args, flag) < 1:
            print(f"error: --{flag}: must be at least 1, got {getattr(args, flag)}", file=sys.stderr)
            return 2
    try:
        archs = _archs(args.archs)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    threads = set_threads(args.threads)
    print(f"threads {threads}, batch {args.batch}, {args.resolution}x{args.resolution}, {args.steps} timed steps"
          " per format")
    print(f"{'arch':28s} {'NCHW ms':>8s} {'NHWC ms':>8s} {'speedup':>7s} {'max |dlogit|':>12s}", flush=True)
    rows = []
    for label, arch in archs:
        r = measure(label, arch, args.steps, args.batch, args.resolution)
        rows.append(r)
        print(f"{label[:28]:28s} {r['nchw_ms']:8.1f} {r['nhwc_ms']:8.1f} {r['speedup']:7.2f}"
              f" {r['max_logit_diff']:12.2e}", flush=True)
    df = pd.DataFrame(rows)
    summary = {
        "archs": len(df),
        "total_speedup": float(df.nchw_ms.sum() / df.nhwc_ms.sum()),
        "geomean_speedup": float(statistics.geometric_mean(df.speedup)),
        "min_speedup": float(df.speedup.min()), "max_speedup": float(df.speedup.max()),
        "slower_in_nhwc": int((df.speedup < 1).sum()),
    }
    print(f"summed step time NCHW/NHWC {summary['total_speedup']:.2f}x; geometric mean"
          f" {summary['geomean_speedup']:.2f}x (range {summary['min_speedup']:.2f}-{summary['max_speedup']:.2f});"
          f" {summary['slower_in_nhwc']} of {summary['archs']} slower in NHWC")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"threads": threads, "batch": args.batch, "steps": args.steps,
                                     "resolution": args.resolution,
                                     "torch": torch.__version__, "summary": summary, "rows": rows}, indent=2))
    print(f"wrote {args.json}")
    return 0
