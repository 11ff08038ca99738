"""``python -m nas.train``: the command line of :mod:`nas.deploy.train`."""

import sys

from nas.deploy.train import main

if __name__ == "__main__":
    sys.exit(main())
