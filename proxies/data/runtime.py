"""The runtime a proxy trains in: device choice, memory format, CPU threads and the CPU allocator."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from functools import cache

import torch

__all__ = ["FORMAT_ENV", "channels_last", "check_runtime", "keep_freed_memory", "machine_tag", "select_device",
           "set_threads", "usable_cpus"]

FORMAT_ENV = "BINAS_CPU_FORMAT"
_CPU_FORMATS = {"nhwc": True, "nchw": False}

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_tuned: bool | None = None


def select_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device: invalid value {device!r}") from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"--device: {device!r} is not available on this machine")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device: {device!r} is not supported (cpu or cuda)")
    return dev


def channels_last(device: torch.device | str | None = None) -> bool:
    """Whether networks train and evaluate in channels_last (NHWC) memory on ``device``.

    On CUDA always (cuDNN's fast path). On the CPU too, unless ``BINAS_CPU_FORMAT=nchw``: oneDNN's
    grouped (K-dependency) and depthwise convolutions run faster in NHWC, a training step 1.17x
    faster summed over the 32 reference architectures on one thread (0.95-1.51x each) and 1.10x over
    the seed presets on two (``benchmarks/memory_format.py``, results/benchmarks/memory_format*.json).
    The two formats round differently, so a seed repeats its numbers within one format only;
    ``nchw`` replays runs made before NHWC became the CPU default (2026-11-30) exactly.
    """
    dev = select_device(str(device) if device is not None else None)
    if dev.type == "cuda":
        return True
    value = os.environ.get(FORMAT_ENV, "nhwc").strip().lower()
    if value not in _CPU_FORMATS:
        raise ValueError(f"{FORMAT_ENV}: unknown value {value!r} (nhwc or nchw)")
    return _CPU_FORMATS[value]


def check_runtime(device: str | None = None) -> torch.device:
    """What a command checks before it loads data: ``--device`` and ``BINAS_CPU_FORMAT`` (ValueError naming
    the bad one); returns the device."""
    dev = select_device(device)
    channels_last(dev)
    return dev


@cache
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_tag(device: torch.device | str | None = None) -> str:
    """Where a run trains, as far as it changes the numbers: the device (CPU model or GPU name), the
    CPU threads and memory format, and the torch version. The same seed gives the same result only
    where this is the same (another float order moves top-1 as far as another seed:
    docs/calibration.md)."""
    dev = select_device(str(device) if device is not None else None)
    if dev.type == "cuda":
        where = f"cuda ({torch.cuda.get_device_name(dev)})"
    else:
        where = f"cpu ({_cpu_name()}), {torch.get_num_threads()} thread(s)"
        if channels_last(dev):  # runs before NHWC became the CPU default were NCHW and said nothing
            where += ", NHWC"
    return f"{where}, torch {torch.__version__}"


def usable_cpus() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def set_threads(threads: int | None = None) -> int:
    """Use every core this process may run on for intra-op work (one model at a time).

    Also keeps freed memory in the process (:func:`keep_freed_memory`).
    """
    if threads is None:
        threads = usable_cpus()
    n = max(1, int(threads or 1))
    torch.set_num_threads(n)
    keep_freed_memory()
    return n


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Let glibc reuse freed activation buffers instead of returning them to the kernel.

    PyTorch's CPU allocator calls ``malloc`` / ``free`` for every tensor. glibc serves
    blocks of a few MB with ``mmap`` and unmaps them on ``free``, so every training step
    page-faults its activations in again: 7,000-14,000 minor faults and 40-60 ms of system
    time per step for a MoBiNet preset at batch 64 (measured with ``getrusage``), more for
    the binary network (its binarizers allocate more) than for its float twin. Raising the
    mmap and trim thresholds keeps those blocks in the heap: about 0 faults per step.
    Memory the process holds grows by at most ``trim_threshold`` of free heap.

    Returns whether the allocator was tuned (False off glibc, e.g. on macOS); idempotent.
    """
    global _tuned
    if _tuned is None:
        _tuned = False
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
            mallopt = getattr(libc, "mallopt", None)
            if mallopt is not None and os.uname().sysname == "Linux":
                _tuned = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
                    mallopt(_M_TRIM_THRESHOLD, trim_threshold)
                )
        except (OSError, AttributeError):
            _tuned = False
    return _tuned
