"""Markdown table of `python -m proxies.calibrate --json` summaries, one column per proxy.

    python benchmarks/calibration_table.py results/calibration/*.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

USAGE = "usage: calibration_table.py SUMMARY.json [...]"


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.2f}"


def markdown(summaries: list[dict]) -> str:
    """One row per table of the papers (in the order the summaries first name them), one column per summary
    (Spearman / Kendall; ``not run`` where a summary lacks the table, ``(n=...)`` where it has fewer rows than
    the fullest), then the row-weighted means and the wall times."""
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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """No summary given: the usage line and exit code 2."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", type=Path, metavar="SUMMARY.json",
                   help="summaries written by python -m proxies.calibrate --json")
    paths = p.parse_args(argv).paths
    if not paths:
        print(USAGE, file=sys.stderr)
        return 2
    print(markdown([json.loads(path.read_text()) for path in paths]))
    return 0
