"""How fast the analytic counter filters candidates, next to fvcore on built models.

    python benchmarks/analytic_ops_speed.py [--n 10000] [--fvcore-n 20] [--json out.json]

A thin entry point over :mod:`search_space.ops_speed`.
"""

from __future__ import annotations

import sys

from search_space.ops_speed import main

if __name__ == "__main__":
    sys.exit(main())
