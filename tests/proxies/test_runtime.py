"""The proxy runtime: device selection, threads, allocator tuning."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys

import pytest
import torch

from proxies import FORMAT_ENV, channels_last, check_runtime, keep_freed_memory, machine_tag, select_device, set_threads


def test_select_device_defaults_and_rejects_bad_values():
    assert select_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="--device: invalid value 'gpu0'"):
        select_device("gpu0")
    with pytest.raises(ValueError, match="not supported"):
        select_device("meta")


def test_set_threads_uses_the_given_count_and_restores():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert set_threads(0) == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not ctypes.util.find_library("c"), reason="glibc only")
def test_keep_freed_memory_stops_page_faults_on_reallocation():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # idempotent
    # 8 MB blocks are mmap'd by glibc's defaults (threshold 128 KB .. 32 MB) and unmapped on
    # free: every reallocation would fault its pages in again. Tuned, they stay in the heap.
    for _ in range(3):
        torch.ones(2 << 20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.ones(2 << 20)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # Untuned, every block faults all its pages again (20 x 2,048 pages); tuned, almost none do. Under
    # load a few blocks still fault (2-3 of 20 seen, other threads' pages count too): a quarter is the bar.
    assert faults < 20 * (8 << 20) // os.sysconf("SC_PAGE_SIZE") // 4, faults


def test_machine_tag_names_what_changes_the_numbers():
    import torch

    from proxies import machine_tag

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = machine_tag("cpu")
        torch.set_num_threads(2)
        two = machine_tag("cpu")
    finally:
        torch.set_num_threads(before)
    assert one.startswith("cpu (") and "1 thread(s)" in one and f"torch {torch.__version__}" in one
    assert two == one.replace("1 thread(s)", "2 thread(s)")


def test_the_cpu_trains_channels_last_unless_told_nchw(monkeypatch):
    monkeypatch.delenv(FORMAT_ENV, raising=False)
    assert channels_last("cpu") and ", NHWC, torch " in machine_tag("cpu")
    monkeypatch.setenv(FORMAT_ENV, " NCHW ")
    assert not channels_last("cpu") and "NHWC" not in machine_tag("cpu")  # as every run before NHWC said
    monkeypatch.setenv(FORMAT_ENV, "nhcw")
    with pytest.raises(ValueError, match="BINAS_CPU_FORMAT: unknown value 'nhcw' \\(nhwc or nchw\\)"):
        check_runtime("cpu")
    with pytest.raises(ValueError, match="--device: invalid value 'gpu0'"):
        check_runtime("gpu0")
