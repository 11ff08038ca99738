"""Published OPs of the seed papers vs binas's fvcore counts, under both conventions.

    python benchmarks/ops_vs_paper.py [--csv ../shared/benchmarks/paper_tables.csv] [--json out.json]

Prints a Markdown table (the one in docs/ops.md) and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from .ops import count_ops
from .presets import preset_for_paper_row

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "paper_tables.csv"


def compare(csv: Path) -> list[dict]:
    table = pd.read_csv(csv)
    rows = []
    for row in table[table["published_ops_m"].notna()].itertuples():
        preset = preset_for_paper_row(row.name)
        bireal = count_ops(preset.arch, convention="bireal")
        with_bn = count_ops(preset.arch, convention="with-bn")
        pub = float(row.published_ops_m)
        rows.append({
            "source": row.source, "table": int(row.table), "row": row.name, "preset": preset.name,
            "published_m": pub,
            "bireal_m": bireal.ops / 1e6, "bireal_rel": bireal.ops / 1e6 / pub - 1,
            "with_bn_m": with_bn.ops / 1e6, "with_bn_rel": with_bn.ops / 1e6 / pub - 1,
            "fp_macs_m": bireal.fp_macs / 1e6, "binary_macs_m": bireal.binary_macs / 1e6,
        })
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| paper | table | row | preset | published | ours (bireal) | diff | ours (with-bn) | diff |",
           "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(
            f"| {r['source']} | {r['table']} | {r['row']} | `{r['preset']}` | {r['published_m']:.2f}M"
            f" | {r['bireal_m']:.2f}M | {r['bireal_rel']:+.1%} | {r['with_bn_m']:.2f}M"
            f" | {r['with_bn_rel']:+.1%} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    p.add_argument("--json", type=Path, default=Path("ops_vs_paper.json"))
    args = p.parse_args(argv)
    if not args.csv.is_file():
        print(f"error: --csv: {args.csv} is not a file", file=sys.stderr)
        return 2
    rows = compare(args.csv)
    print(markdown(rows))
    args.json.write_text(json.dumps(rows, indent=2))
    print(f"\nwrote {args.json}")
    return 0
