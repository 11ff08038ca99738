"""``python -m nas.export``: the command line of :mod:`nas.deploy.export`."""

import sys

from nas.deploy.export import main

if __name__ == "__main__":
    sys.exit(main())
