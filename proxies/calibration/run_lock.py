"""Claims on runs in progress, so that processes (and machines sharing a folder) do not repeat each
other's work: one lock file per run, holding ``host:pid``.

A process :func:`claim` s a run before it starts it and holds it (:func:`holding`) while it runs: a
daemon thread touches the lock every ``BEAT_S``, and the lock is removed when the run ends, however
it ends. A lock is stale, and taken over, when its owner is of this host and dead, or when it fell
silent for ``STALE_S`` on any host (a killed session, a machine gone).

Claims are made one at a time, under an exclusive ``flock`` on the folder that holds the lock
folder (:func:`folder_lock`): checking a lock, taking over a stale one and writing one's own are
then one step. Without it, a process could read a lock another had created but not yet written,
take it for stale, and both would run the same run. The owner writes its result where ``done``
looks (the run cache, a result file) *before* it removes its lock, so a run is always either
locked or done.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["BEAT_S", "STALE_S", "claim", "folder_lock", "holding", "stale"]

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


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` itself (no lock file is left in it), held while the block
    runs; other processes on this host wait for it. Where a folder cannot be locked (NFS takes
    ``flock`` for a byte-range lock, which needs a file open for writing) the block runs unlocked:
    claims then rest on their atomic creation alone."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _create(lock: Path) -> bool:
    """Create ``lock`` holding our owner line, atomically (never seen empty): False if it exists."""
    tmp = lock.with_name(f".{lock.name}.{_owner().replace(':', '-')}.tmp")
    tmp.write_text(_owner())
    try:
        os.link(tmp, lock)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def claim(lock: Path, done: Callable[[], bool]) -> bool:
    """Take the run whose lock file is ``lock``: False when ``done()`` says it is finished or another
    live process holds it. The lock's folder is made if it is missing."""
    with folder_lock(lock.parent.parent):
        if done():
            return False
        lock.parent.mkdir(exist_ok=True)
        if lock.exists():
            if not stale(lock):
                return False
            lock.unlink(missing_ok=True)
        if not _create(lock):  # another process made it meanwhile (where the folder lock is missing)
            return False
        if done():  # finished, and its lock removed, between the first check and ours
            lock.unlink(missing_ok=True)
            return False
        return True


def _release(lock: Path) -> None:
    """Remove ``lock`` if it is still ours (a lock taken over as stale belongs to its new owner)."""
    with folder_lock(lock.parent.parent), contextlib.suppress(OSError):
        if lock.read_text().strip() == _owner():
            lock.unlink()


@contextlib.contextmanager
def holding(lock: Path) -> Iterator[None]:
    """Keep a claimed ``lock`` fresh while the block runs; remove it when the block ends (if it is
    still ours)."""
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
        _release(lock)
