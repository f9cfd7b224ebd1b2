"""The most a device can do, the denominator of model FLOPs utilisation.

On a CPU the peak is measured in the same session as the training steps, once per precision and
robustly (the best of several repeats at several matrix sizes; a peak must be an upper bound, and
one size on a busy machine can come out far low), so a machine is compared with itself. A case
whose training FLOP/s still exceed the peak has an MFU above 100%, which the report names as a
measurement error instead of printing it. On a GPU it is the vendor's published dense peak for the card and
precision: a GPU's matmul peak is what its tensor cores reach, and a CPU-style measurement would
need sizes and clocks tuned per card. A GPU missing from the table gets no MFU, with the reason.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from harness.run.devices import device_index

CPU_PEAK_MATMUL_SIZE = 2048
CPU_PEAK_MATMUL_SIZES = (1024, 2048, 3072)
CPU_PEAK_REPEATS = 5


@dataclass(frozen=True)
class PeakFlops:
    """A device's peak FLOP/s for one precision, or None with the reason it is not known."""

    flops_per_second: float | None
    source: str


@dataclass(frozen=True)
class PublishedGpuPeaks:
    """Dense (no structured sparsity) peaks in TFLOP/s from the vendor's datasheet."""

    name: str
    pattern: str
    fp32: float
    tf32: float | None
    bf16: float | None
    fp16: float
    source: str

    def matches(self, device_name: str) -> bool:
        return re.search(self.pattern, device_name, flags=re.IGNORECASE) is not None


# Datasheets quote tensor-core peaks "with sparsity"; the dense peak is half of that. fp16/bf16 are
# the rates with fp32 accumulation, which is what autocast training uses. Order matters: the first
# pattern that matches a device name wins, so variants come before their family.
GPU_PEAKS: tuple[PublishedGpuPeaks, ...] = (
    PublishedGpuPeaks("H100 NVL", r"H100\s*NVL", 60.0, 417.5, 835.5, 835.5, "NVIDIA H100 datasheet (NVL column)"),
    PublishedGpuPeaks("H100 PCIe", r"H100.*PCIe", 51.0, 378.0, 756.0, 756.0, "NVIDIA H100 datasheet (PCIe column)"),
    PublishedGpuPeaks("H100 SXM", r"H100", 67.0, 494.7, 989.4, 989.4, "NVIDIA H100 datasheet (SXM column)"),
    PublishedGpuPeaks("H200 NVL", r"H200\s*NVL", 60.0, 417.5, 835.5, 835.5, "NVIDIA H200 datasheet (NVL column)"),
    PublishedGpuPeaks("H200 SXM", r"H200", 67.0, 494.7, 989.4, 989.4, "NVIDIA H200 datasheet (SXM column)"),
    PublishedGpuPeaks("A100", r"A100", 19.5, 156.0, 312.0, 312.0, "NVIDIA A100 datasheet"),
    PublishedGpuPeaks("L40S", r"L40S", 91.6, 183.0, 362.05, 362.05, "NVIDIA L40S datasheet"),
    PublishedGpuPeaks("L4", r"\bL4\b", 30.3, 60.0, 121.0, 121.0, "NVIDIA L4 datasheet"),
    PublishedGpuPeaks("A10", r"\bA10\b(?!G)", 31.2, 62.5, 125.0, 125.0, "NVIDIA A10 datasheet"),
    PublishedGpuPeaks("T4", r"\bT4\b", 8.1, None, None, 65.0, "NVIDIA T4 datasheet"),
    PublishedGpuPeaks("V100 PCIe", r"V100.*PCIE", 14.0, None, None, 112.0, "NVIDIA V100 datasheet (PCIe column)"),
    PublishedGpuPeaks("V100 SXM2", r"V100", 15.7, None, None, 125.0, "NVIDIA V100 datasheet (SXM2 column)"),
    PublishedGpuPeaks("RTX 4090", r"RTX 4090", 82.6, 82.6, 165.2, 165.2, "NVIDIA Ada Lovelace architecture whitepaper"),
    PublishedGpuPeaks("RTX 3090", r"RTX 3090", 35.6, 35.6, 71.0, 71.0, "NVIDIA Ampere GA102 whitepaper"),
)


def published_gpu_peak(device_name: str, precision: str, *, tf32: bool = False) -> PeakFlops:
    """The published dense peak for ``device_name`` in ``precision``; fp32 uses the TF32 tensor-core
    peak when TF32 matmuls are allowed (``torch.backends.cuda.matmul.allow_tf32``), since then that
    is what the multiplies run on.

    >>> published_gpu_peak("NVIDIA H100 80GB HBM3", "bf16").flops_per_second
    989400000000000.0
    >>> published_gpu_peak("NVIDIA A10G", "bf16").flops_per_second is None
    True
    """
    for entry in GPU_PEAKS:
        if entry.matches(device_name):
            key = "tf32" if precision == "fp32" and tf32 else precision
            tflops = getattr(entry, key, None)
            if tflops is None:
                return PeakFlops(None, f"{entry.name} has no published dense {key} peak ({entry.source})")
            return PeakFlops(tflops * 1e12, f"{entry.name} {key} dense peak, {tflops:g} TFLOP/s ({entry.source})")
    known = ", ".join(entry.name for entry in GPU_PEAKS)
    return PeakFlops(None, f"no published peak for {device_name!r} in the harness's table (known: {known})")


def measure_cpu_peak_flops(precision: str = "fp32", *, size: int = CPU_PEAK_MATMUL_SIZE, repeats: int = CPU_PEAK_REPEATS) -> PeakFlops:
    """The best FLOP/s of ``repeats`` square ``size`` matmuls in ``precision``, on torch's threads.

    The best, not the mean: the peak is what the machine can do when nothing else gets in the way.
    """
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    torch.matmul(a, b)  # first call picks and caches the kernel
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    flops = 2.0 * size**3 / best
    return PeakFlops(
        flops, f"measured in this run: best of {repeats} {precision} {size}x{size} matmuls on "
        f"{torch.get_num_threads()} torch threads, {flops / 1e9:.0f} GFLOP/s"
    )


def measure_cpu_peak_robustly(precision: str = "fp32", *, sizes=CPU_PEAK_MATMUL_SIZES, repeats: int = CPU_PEAK_REPEATS) -> PeakFlops:
    """The best of :func:`measure_cpu_peak_flops` over several matrix sizes: an upper bound is the goal."""
    peaks = [measure_cpu_peak_flops(precision, size=size, repeats=repeats) for size in sizes]
    best = max(peaks, key=lambda p: p.flops_per_second)
    return PeakFlops(best.flops_per_second, f"{best.source}; the best of {', '.join(str(s) for s in sizes)} square "
                                            f"matmuls x {repeats} repeats, measured once this session")


def peak_flops_for(device: str, precision: str) -> PeakFlops:
    """The MFU denominator for a case: measured now on a CPU, published for a GPU, unknown on MPS."""
    import torch

    kind = device.split(":", 1)[0]
    if kind == "cpu":
        return measure_cpu_peak_robustly(precision)
    if kind == "cuda":
        name = torch.cuda.get_device_name(device_index(device))
        return published_gpu_peak(name, precision, tf32=cuda_matmul_uses_tf32())
    return PeakFlops(None, f"no published peak for {kind} devices in the harness's table")


def cuda_matmul_uses_tf32() -> bool:
    """Whether fp32 CUDA matmuls run on TF32 tensor cores, by any of torch's switches for it (the
    legacy ``allow_tf32`` flag, the ``fp32_precision`` settings of torch >= 2.9, or the float32
    matmul precision); the Trainer leaves them at torch's default (off) unless ``tf32`` is set."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch >= 2.9 deprecates reading the legacy flag
        settings = (
            torch.get_float32_matmul_precision() != "highest",
            bool(getattr(torch.backends.cuda.matmul, "allow_tf32", False)),
            getattr(torch.backends, "fp32_precision", None) == "tf32",
            getattr(torch.backends.cuda.matmul, "fp32_precision", None) == "tf32",
        )
    return any(settings)
