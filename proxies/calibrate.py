"""``python -m proxies.calibrate``: the command line of :mod:`proxies.calibration.calibrate`."""

import sys

from .calibration.calibrate import main

if __name__ == "__main__":
    sys.exit(main())
