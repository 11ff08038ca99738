"""What must be the same on every machine of a search: the binas version and the data folder's path.

A Ray worker checks itself before it trains (:func:`worker_mismatch`); the driver then stops the search
with that one line instead of recording a wrong or failed trial. Processes that share a study through
a storage (``--workers``, PostgreSQL) are checked when they open it (:func:`nas.study.open_study`), and
each checks its own ``--data-dir``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from proxies.manifest import binas_version

__all__ = ["WorkerMismatch", "worker_mismatch"]


class WorkerMismatch(ValueError):
    """A worker cannot run the driver's trials (another binas version, no data folder): one line."""


def worker_mismatch(driver_version: str, data_dir: str) -> str | None:
    """None where this machine can train the driver's trials; else one line naming what differs."""
    host = socket.gethostname()
    ours = binas_version()
    if ours != driver_version:
        return (
            f"a Ray worker on {host} runs binas {ours}, the driver binas {driver_version}"
            " (install the same binas version on every machine)"
        )
    if not Path(data_dir).is_dir():
        return (
            f"a Ray worker on {host} has no data folder {data_dir!r}"
            " (--data-dir must name the same path on every machine)"
        )
    return None
