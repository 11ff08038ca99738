"""Published OPs of the seed papers vs binas's fvcore counts, under both conventions.

    python benchmarks/ops_vs_paper.py [--csv ../shared/benchmarks/paper_tables.csv] [--json out.json]

A thin entry point over :mod:`search_space.ops_vs_paper`.
"""

from __future__ import annotations

import sys

from search_space.ops_vs_paper import main

if __name__ == "__main__":
    sys.exit(main())
