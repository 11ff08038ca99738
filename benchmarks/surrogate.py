"""How well a surrogate fitted on held-apart proxy results ranks the reference set; with ``--prior``,
also the search's shipped prior.

    python benchmarks/surrogate.py [--out results/calibration/surrogate] [--prior PATH]

The same command as ``python -m proxies.calibration.surrogate_fit`` (same options), a thin entry
point over :mod:`proxies.calibration.surrogate_fit`. Run it from the repository root (its defaults
are under results/).
"""

from __future__ import annotations

import sys

from proxies.calibration.surrogate_fit import main

if __name__ == "__main__":
    sys.exit(main())
