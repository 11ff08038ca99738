"""Claims on runs in progress, so that processes (and machines sharing a folder) do not repeat each
other's work: one lock file per run, holding ``host:pid``.

A process :func:`claim` s a run before it starts it and holds it (:func:`holding`) while it runs: a
daemon thread touches the lock every ``BEAT_S``, and the lock is removed when the run ends, however
it ends. A lock is stale, and taken over, when its owner is of this host and dead, or when it fell
silent for ``STALE_S`` on any host (a killed session, a machine gone).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["BEAT_S", "STALE_S", "claim", "holding", "stale"]

BEAT_S = 60.0  # a run in progress touches its lock this often
STALE_S = 600.0  # a lock untouched this long belongs to a process that is gone


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def stale(lock: Path) -> bool:
    """A lock left by a process that is gone: of this host and dead, or silent (its owner refreshes
    it every ``BEAT_S``) for ``STALE_S`` on any host."""
    try:
        host, pid = lock.read_text().strip().rsplit(":", 1)
        age = time.time() - lock.stat().st_mtime
    except (OSError, ValueError):
        return True
    if age > STALE_S:
        return True
    if host != socket.gethostname():
        return False  # another machine's, alive
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def claim(lock: Path, done: Callable[[], bool]) -> bool:
    """Take the run whose lock file is ``lock``: False when ``done()`` says it is finished or another
    live process holds it."""
    if done():
        return False
    if lock.exists() and stale(lock):
        lock.unlink(missing_ok=True)
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(_owner())
    if done():  # finished by another process between the two checks
        lock.unlink(missing_ok=True)
        return False
    return True


@contextlib.contextmanager
def holding(lock: Path) -> Iterator[None]:
    """Keep a claimed ``lock`` fresh while the block runs; remove it when the block ends."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(BEAT_S):
            with contextlib.suppress(OSError):
                os.utime(lock)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        lock.unlink(missing_ok=True)
