"""``python -m proxies.evaluate``: the command line of :mod:`proxies.scoring.evaluate`."""

import sys

from .scoring.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
