"""Peak memory: the CPU monitor reports the process's resident set between start and stop."""

from __future__ import annotations

import psutil

from harness.peak_memory import PeakMemoryMonitor


def test_the_cpu_peak_covers_memory_held_between_start_and_stop():
    monitor = PeakMemoryMonitor("cpu", interval=0.001)
    monitor.start()
    block = bytearray(64 * 2**20)  # touched, so resident
    for i in range(0, len(block), 4096):
        block[i] = 1
    resident = psutil.Process().memory_info().rss
    peak = monitor.stop()
    del block
    assert peak.bytes >= resident
    assert "process RSS" in peak.source


def test_stop_without_start_measures_nothing():
    peak = PeakMemoryMonitor("cpu").stop()
    assert peak.bytes is None and "not measured" in peak.source
