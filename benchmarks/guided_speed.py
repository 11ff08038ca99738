"""The guided sampler's time per proposal with a large study: ``python benchmarks/guided_speed.py
[--trials 1000] [--proposals 10] [--out results/benchmarks/guided_speed.json]``. A thin entry point
over :mod:`nas.analyze.sampler_speed`."""

from __future__ import annotations

import sys

from nas.analyze.sampler_speed import main

if __name__ == "__main__":
    sys.exit(main())
