"""``python -m search_space.describe ARCH``: an architecture's OPs, parameters and layers.

ARCH is a preset name, an architecture string or a JSON file.
"""

from __future__ import annotations

import argparse
import json
import sys

from .cli import ArgumentParser, resolve_arch, run_cli
from .ops import CONVENTIONS, OpsReport, count_ops

__all__ = ["main", "format_report"]


def _m(x: float) -> str:
    return f"{x / 1e6:.2f}M"


def format_report(report: OpsReport, name: str = "") -> str:
    title = f"{name} = {report.arch}" if name else report.arch
    lines = [
        title,
        f"  OPs ({report.convention}, {report.resolution}x{report.resolution},"
        f" {report.num_classes} classes): {_m(report.ops)}",
        f"  full-precision MACs: {_m(report.fp_macs)}   binary MACs: {_m(report.binary_macs)}",
        "  MACs by role: " + ", ".join(f"{k} {_m(v)}" for k, v in report.macs_by_role.items()),
        f"  parameters: {_m(report.params)} ({_m(report.params_fp)} float,"
        f" {_m(report.params_binary)} binary)   size: {report.size_bytes / 2**20:.2f} MiB",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m search_space.describe", description=__doc__)
    p.add_argument("arch", help="preset name, architecture string or JSON file")
    p.add_argument("--resolution", type=int, default=224, help="input size (default 224)")
    p.add_argument("--num-classes", type=int, default=1000, help="classes (default 1000)")
    p.add_argument("--convention", default="bireal", choices=CONVENTIONS,
                   help="bireal: FP MACs + binary MACs/64; with-bn: also counts BN")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--layers", action="store_true", help="print the per-layer breakdown")
    return p


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.resolution < 8:
        raise ValueError(f"--resolution: invalid value {args.resolution} (expected >= 8)")
    if args.num_classes < 1:
        raise ValueError(f"--num-classes: invalid value {args.num_classes} (expected >= 1)")
    arch, name = resolve_arch(args.arch)
    report = count_ops(arch, args.resolution, args.num_classes, args.convention)
    if args.json:
        data = report.to_dict()
        data["preset"] = name or None
        print(json.dumps(data, indent=2))
        return 0
    print(format_report(report, name))
    if args.layers:
        for layer in report.layers:
            tag = "bin" if layer.binary else "fp "
            print(f"  {layer.name:40s} {layer.role:5s} {tag} {layer.macs:>12,d} MACs"
                  f" {layer.params:>10,d} params")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
