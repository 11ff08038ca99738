"""Markdown table of `python -m proxies.calibrate --json` summaries, one column per proxy.

    python benchmarks/calibration_table.py results/calibration/*.json
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.2f}"


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print("usage: calibration_table.py SUMMARY.json [...]", file=sys.stderr)
        return 2
    summaries = [json.loads(p.read_text()) for p in paths]
    groups = list(dict.fromkeys(g["group"] for s in summaries for g in s["groups"]))
    head = "| table | rows | archs | " + " | ".join(f"{s['proxy']} rho / tau" for s in summaries) + " |"
    lines = [head, "| --- | ---: | ---: | " + " | ".join("---" for _ in summaries) + " |"]
    for name in groups:
        found = [next((g for g in s["groups"] if g["group"] == name), None) for s in summaries]
        full = max((g for g in found if g), key=lambda g: g["rows"])
        cells = []
        for g in found:
            if g is None:
                cells.append("not run")
                continue
            partial = f" (n={g['rows']})" if g["rows"] < full["rows"] else ""
            cells.append(f"{_fmt(g['spearman'])} / {_fmt(g['kendall'])}{partial}")
        lines.append(f"| {name} | {full['rows']} | {full['archs']} | " + " | ".join(cells) + " |")
    lines.append("| **row-weighted mean** | | | "
                 + " | ".join(f"**{_fmt(s['spearman'])} / {_fmt(s['kendall'])}**" for s in summaries) + " |")
    lines.append("| wall time | | | " + " | ".join(f"{s['wall_seconds']:.0f} s" for s in summaries) + " |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
