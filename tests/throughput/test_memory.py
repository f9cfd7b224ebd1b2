"""Peak memory: the CPU monitor reports the process's resident set between start and stop."""

from __future__ import annotations

import mmap

import psutil

from harness.throughput.memory import PeakMemoryMonitor


def test_the_cpu_peak_covers_memory_held_between_start_and_stop():
    monitor = PeakMemoryMonitor("cpu", interval=0.001)
    monitor.start()
    before = psutil.Process().memory_info().rss
    # A fresh anonymous mapping, touched page by page: new resident memory, where a bytearray could
    # reuse pages the allocator already holds (a long test session frees plenty) and add nothing.
    block = mmap.mmap(-1, 64 * 2**20)
    for i in range(0, len(block), mmap.PAGESIZE):
        block[i] = 1
    peak = monitor.stop()
    block.close()
    # The block, not an exact page count: other threads free and map pages between any two reads.
    assert peak.bytes >= before + 60 * 2**20
    assert "process RSS" in peak.source


def test_stop_without_start_measures_nothing():
    peak = PeakMemoryMonitor("cpu").stop()
    assert peak.bytes is None and "not measured" in peak.source
