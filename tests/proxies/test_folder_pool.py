"""The decode pool's workers end on SIGTERM whatever handlers their parent had when it forked them
(a flag-only handler, as a search's graceful stop installs, would keep a worker alive when the pool is
shut down, and can hang the parent's join: seen under load)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image

import proxies.data.folder as folder

SCRIPT = textwrap.dedent("""
    import signal
    from proxies.data.folder import _worker_signals

    signal.signal(signal.SIGTERM, lambda *a: None)  # what a worker may inherit
    _worker_signals()
    print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
""")


def test_worker_signals_restores_the_defaults():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True"]


def test_the_pool_runs_it_in_every_worker(tmp_path, monkeypatch):
    seen = []
    real = folder.ProcessPoolExecutor

    def executor(*args, **kwargs):
        seen.append(kwargs.get("initializer"))
        return real(*args, **kwargs)

    monkeypatch.setattr(folder, "ProcessPoolExecutor", executor)
    rng = np.random.default_rng(0)
    for i in range(200):  # 4 chunks of 64: the pool is used
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / f"{i:03d}.png")
    previous = signal.signal(signal.SIGTERM, lambda *a: None)
    try:
        images, skipped = folder.decode_files(sorted(str(p) for p in tmp_path.glob("*.png")), tmp_path, None,
                                              workers=2, progress=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [folder._worker_signals] and tuple(images.shape) == (200, 3, 8, 8) and skipped == []
