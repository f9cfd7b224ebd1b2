"""The most memory training steps held: the CUDA allocator's high-water mark on a GPU, the
process's resident set (sampled by a background thread) elsewhere.

RSS is the whole process (weights, optimizer state, activations, and everything else the session
has loaded), so it is an upper bound on what the steps need; the CUDA figure is exact for tensors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from harness.run.devices import device_kind

RSS_SAMPLE_SECONDS = 0.02  # activations live for a whole forward and backward: hundreds of ms on a CPU


@dataclass(frozen=True)
class PeakMemory:
    bytes: int | None
    source: str


class PeakMemoryMonitor:
    """``start()`` before the measured steps, ``stop()`` after: the peak in between."""

    def __init__(self, device: str, *, interval: float = RSS_SAMPLE_SECONDS) -> None:
        self.device = device
        self.interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def on_cuda(self) -> bool:
        return device_kind(self.device) == "cuda"

    def start(self) -> None:
        if self.on_cuda:
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        import psutil

        process = psutil.Process()
        self._peak = process.memory_info().rss
        self._stop.clear()

        def sample() -> None:
            while not self._stop.wait(self.interval):
                self._peak = max(self._peak, process.memory_info().rss)

        self._thread = threading.Thread(target=sample, name="peak-rss", daemon=True)
        self._thread.start()

    def stop(self) -> PeakMemory:
        if self.on_cuda:
            import torch

            torch.cuda.synchronize(self.device)
            return PeakMemory(int(torch.cuda.max_memory_allocated(self.device)), "torch.cuda.max_memory_allocated")
        if self._thread is None:
            return PeakMemory(None, "not measured: the monitor was never started")
        self._stop.set()
        self._thread.join()
        self._thread = None
        import psutil

        self._peak = max(self._peak, psutil.Process().memory_info().rss)
        return PeakMemory(self._peak, f"process RSS, sampled every {self.interval * 1000:g} ms (psutil)")
