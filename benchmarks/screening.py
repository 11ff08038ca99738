"""How many proposals the search's screening step lets train, and what scoring them costs.

    python benchmarks/screening.py [--n 120] [--budget 50M] [--score synflow] [--json results/benchmarks/screening.json]

A thin entry point over :mod:`nas.screening_rate`.
"""

from __future__ import annotations

import sys

from nas.screening_rate import main

if __name__ == "__main__":
    sys.exit(main())
