"""Replay noise: the same architecture, seed and data trained with a different number of CPU threads,
next to the seed-to-seed noise of the same architectures.

    python benchmarks/replay_noise.py --data-dir ../shared/data/cifar10 [--archs 8] [--threads 1,2]
        [--runs results/calibration/fidelity-runs.csv] [--out results/calibration/replay] [--report-only]

A thin entry point over :mod:`proxies.calibration.replay_noise`. Run it from the repository root (its
defaults are under results/calibration).
"""

from __future__ import annotations

import sys

from proxies.calibration.replay_noise import main

if __name__ == "__main__":
    sys.exit(main())
