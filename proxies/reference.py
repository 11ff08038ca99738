"""``python -m proxies.reference``: the command line of :mod:`proxies.calibration.reference`."""

import sys

from .calibration.reference import main

if __name__ == "__main__":
    sys.exit(main())
