"""Chaos: SIGKILL a search at random moments, resume it each time, count what was lost.

    python benchmarks/chaos.py [--kills 10] [--trials 40] [--workers 1] [--sampler random]
                               [--data-dir ../shared/data/cifar10] [--json out.json]

A thin entry point over :mod:`nas.backends.chaos`.
"""

from __future__ import annotations

import sys

from nas.backends.chaos import main

if __name__ == "__main__":
    sys.exit(main())
