"""``python -m search_space.presets [--json]``: the named architectures and their OPs."""

from __future__ import annotations

import json
import sys

from ..builder import analytic_cost
from ..cli import ArgumentParser, run_cli
from . import PRESETS


def _main(argv: list[str] | None) -> int:
    p = ArgumentParser(prog="python -m search_space.presets", description=__doc__)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--num-classes", type=int, default=1000)
    args = p.parse_args(argv)
    rows = []
    for name, preset in PRESETS.items():
        cost = analytic_cost(preset.arch, args.num_classes, args.resolution)
        rows.append({
            "name": name, "arch": preset.arch.encode(), "source": preset.source,
            "description": preset.description, "ops": cost.ops(),
            "ops_with_bn": cost.ops(with_bn=True), "fp_macs": cost.fp_macs,
            "binary_macs": cost.binary_macs, "params": cost.params,
            "size_bytes": cost.size_bytes,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'preset':28s} {'OPs':>9s} {'params':>8s}  arch")
    for r in rows:
        print(f"{r['name']:28s} {r['ops'] / 1e6:8.2f}M {r['params'] / 1e6:7.2f}M  {r['arch']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
