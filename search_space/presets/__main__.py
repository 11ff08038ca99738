"""``python -m search_space.presets [--space NAME] [--budget OPS] [--json]``: the named architectures, their OPs
and the named search spaces that hold each; with ``--budget``, each space's size within it."""

from __future__ import annotations

import json
import sys

from ..budget import format_ops, parse_budget
from ..builder import analytic_cost
from ..cli import ArgumentParser, choice, run_cli
from ..named import SPACES, space_summary
from . import PRESETS


def _main(argv: list[str] | None) -> int:
    p = ArgumentParser(prog="python -m search_space.presets", description=__doc__)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--space", type=choice(tuple(SPACES)), help=f"only the presets in this space: {', '.join(SPACES)}")
    p.add_argument("--budget", help="each space's size within this many OPs (e.g. 45M)")
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--num-classes", type=int, default=1000)
    args = p.parse_args(argv)
    budget = None if args.budget is None else parse_budget(args.budget)
    rows = []
    for name, preset in PRESETS.items():
        spaces = [s for s, space in SPACES.items() if space.contains(preset.arch)]
        if args.space is not None and args.space not in spaces:
            continue
        cost = analytic_cost(preset.arch, args.num_classes, args.resolution)
        rows.append({
            "name": name, "arch": preset.arch.encode(), "source": preset.source,
            "description": preset.description, "ops": cost.ops(),
            "ops_with_bn": cost.ops(with_bn=True), "fp_macs": cost.fp_macs,
            "binary_macs": cost.binary_macs, "params": cost.params,
            "size_bytes": cost.size_bytes, "spaces": spaces,
        })
    summaries = [
        space_summary(s, budget, args.num_classes, args.resolution)
        for s in ([args.space] if args.space else SPACES)
    ]
    if args.json:
        print(json.dumps({"presets": rows, "spaces": summaries} if budget is not None else rows, indent=2))
        return 0
    print(f"{'preset':28s} {'OPs':>9s} {'params':>8s}  {'spaces':29s} arch")
    for r in rows:
        print(f"{r['name']:28s} {r['ops'] / 1e6:8.2f}M {r['params'] / 1e6:7.2f}M  {','.join(r['spaces']):29s}"
              f" {r['arch']}")
    print()
    for s in summaries:
        size = f"space {s['space']}: {s['size']:,} architectures"
        if s["in_budget"] is not None:
            size += f", {s['in_budget']:,} within {format_ops(s['budget'])} OPs"
        elif s["in_budget_share"] is not None:
            size += f", {100 * s['in_budget_share']:.1f}% of random draws within {format_ops(s['budget'])} OPs"
        print(size)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
