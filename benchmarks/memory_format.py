"""Proxy training step time on the CPU in NCHW (contiguous) and NHWC (channels_last) memory format.

    python benchmarks/memory_format.py [--archs reference|presets|A,B,...] [--steps 8] [--threads 1]
                                       [--batch 32] [--resolution 32]
                                       [--json results/benchmarks/memory_format.json]

A thin entry point over :mod:`proxies.scoring.memory_format`.
"""

from __future__ import annotations

import sys

from proxies.scoring.memory_format import main

if __name__ == "__main__":
    sys.exit(main())
