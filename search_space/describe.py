"""``python -m search_space.describe ARCH``: an architecture's OPs, parameters and layers.
``python -m search_space.describe --space NAME [--budget OPS]``: a named search space's choices and size,
and how much of it fits a budget.

ARCH is a preset name, an architecture string or a JSON file.
"""

from __future__ import annotations

import argparse
import json
import sys

from .budget import format_ops, parse_budget
from .cli import ArgumentParser, choice, resolve_arch, run_cli
from .named import SPACE_HELP, SPACES, get_space, space_summary
from .ops import CONVENTIONS, OpsReport, count_ops

__all__ = ["format_report", "format_space", "main"]


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


def format_space(summary: dict) -> str:
    """A named space's choices, its size and (with a budget) how much of it fits."""
    name = summary["space"]
    lines = [f"{name}: {SPACE_HELP[name]}"]
    space = get_space(name)
    cascade_only = space.topologies == ("cascade",)  # a cascade block has no expansion: never asked
    lines += [
        f"  {choice}: {', '.join(map(str, values))}"
        for choice, values in space.choices().items()
        if not (cascade_only and choice.endswith(".expansion"))
    ]
    lines.append(f"  architectures: {summary['size']:,}")
    if summary["budget"] is not None:
        within = format_ops(summary["budget"])
        if summary["in_budget"] is not None:
            lines.append(f"  within {within} OPs: {summary['in_budget']:,} (every architecture counted)")
        else:
            lines.append(f"  within {within} OPs: {100 * summary['in_budget_share']:.1f}% of uniform random draws")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m search_space.describe", description=__doc__)
    p.add_argument("arch", nargs="?", help="preset name, architecture string or JSON file")
    p.add_argument("--space", type=choice(tuple(SPACES)), help=f"describe a search space: {', '.join(SPACES)}")
    p.add_argument("--budget", help="with --space: how much of it fits this many OPs (e.g. 45M)")
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
    if args.space is not None or args.arch is None:
        return _describe_space(args)
    if args.budget is not None:
        raise ValueError("--budget: only meaningful with --space")
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


def _describe_space(args: argparse.Namespace) -> int:
    if args.space is None:
        raise ValueError("describe: give an architecture (a preset name, a string or a JSON file) or --space NAME")
    if args.arch is not None:
        raise ValueError(f"--space: give an architecture ({args.arch!r}) or a space, not both")
    budget = None if args.budget is None else parse_budget(args.budget)
    summary = space_summary(args.space, budget, args.num_classes, args.resolution, args.convention == "with-bn")
    print(json.dumps(summary, indent=2) if args.json else format_space(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
