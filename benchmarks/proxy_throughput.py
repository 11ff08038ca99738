"""Training throughput of binary presets next to their float twins, and how much of the
machine's float32 matmul rate the proxy training reaches.

    python benchmarks/proxy_throughput.py [--presets a,b,c] [--steps 20] [--batch 64] [--json out.json]

A thin entry point over :mod:`proxies.scoring.throughput`.
"""

from __future__ import annotations

import sys

from proxies.scoring.throughput import main

if __name__ == "__main__":
    sys.exit(main())
