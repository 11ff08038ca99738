"""Rank fidelity of the candidate evaluators against the reference set and the papers' tables.

    python benchmarks/fidelity.py --data-dir ../shared/data/cifar10 [--evaluators a,b,...]
        [--archs reference|paper|all] [--limit N] [--report-only]

A thin entry point: the logic is in proxies.calibration: fidelity_bench (the command line),
evaluators (the registry), fidelity_runs (the resumable run cache) and rank_fidelity (metrics,
table, plot data). Run it from the repository root (its defaults are results/reference and
results/calibration).
"""

from __future__ import annotations

import sys

from proxies.calibration.fidelity_bench import main

if __name__ == "__main__":
    sys.exit(main())
