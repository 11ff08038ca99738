"""Markdown table of `python -m proxies.calibrate --json` summaries, one column per proxy.

    python benchmarks/calibration_table.py results/calibration/*.json

A thin entry point over :mod:`proxies.calibration.summary_table`.
"""

from __future__ import annotations

import sys

from proxies.calibration.summary_table import main

if __name__ == "__main__":
    sys.exit(main())
