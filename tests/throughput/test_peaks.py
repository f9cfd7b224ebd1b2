"""Peak FLOP/s: the published GPU table's lookups and the CPU measurement's shape (never its speed)."""

from __future__ import annotations

import pytest

from harness.throughput.peaks import GPU_PEAKS, PeakFlops, measure_cpu_peak_flops, peak_flops_for, published_gpu_peak


@pytest.mark.parametrize(
    ("device_name", "precision", "table_name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", "H100 SXM", 989.4),
        ("NVIDIA H100 80GB HBM3", "fp32", "H100 SXM", 67.0),
        ("NVIDIA H100 PCIe", "fp16", "H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", "bf16", "H100 NVL", 835.5),
        ("NVIDIA H200", "bf16", "H200 SXM", 989.4),
        ("NVIDIA A100-SXM4-80GB", "bf16", "A100", 312.0),
        ("NVIDIA A100 80GB PCIe", "fp32", "A100", 19.5),
        ("NVIDIA L4", "fp16", "L4", 121.0),
        ("NVIDIA L40S", "bf16", "L40S", 362.05),
        ("NVIDIA A10", "bf16", "A10", 125.0),
        ("Tesla T4", "fp16", "T4", 65.0),
        ("Tesla V100-SXM2-16GB", "fp16", "V100 SXM2", 125.0),
        ("Tesla V100-PCIE-32GB", "fp16", "V100 PCIe", 112.0),
        ("NVIDIA GeForce RTX 4090", "bf16", "RTX 4090", 165.2),
    ],
)
def test_published_peaks_are_looked_up_by_device_name(device_name, precision, table_name, tflops):
    peak = published_gpu_peak(device_name, precision)
    assert peak.flops_per_second == pytest.approx(tflops * 1e12)
    assert table_name in peak.source and precision in peak.source


def test_fp32_uses_the_tf32_peak_only_when_tf32_is_on():
    assert published_gpu_peak("NVIDIA A100-SXM4-40GB", "fp32", tf32=True).flops_per_second == pytest.approx(156e12)
    assert published_gpu_peak("NVIDIA A100-SXM4-40GB", "fp32", tf32=False).flops_per_second == pytest.approx(19.5e12)


def test_a_precision_the_card_lacks_has_no_peak_and_says_so():
    peak = published_gpu_peak("Tesla T4", "bf16")
    assert peak.flops_per_second is None
    assert "T4 has no published dense bf16 peak" in peak.source


@pytest.mark.parametrize("device_name", ["NVIDIA A10G", "NVIDIA RTX A6000", "AMD Instinct MI300X"])
def test_an_unknown_gpu_has_no_peak_and_says_so(device_name):
    peak = published_gpu_peak(device_name, "bf16")
    assert peak.flops_per_second is None
    assert f"no published peak for {device_name!r}" in peak.source


def test_every_table_entry_is_found_by_its_own_name():
    """No entry is shadowed by an earlier, broader pattern."""
    for entry in GPU_PEAKS:
        names = {"H100 SXM": "NVIDIA H100 80GB HBM3", "H200 SXM": "NVIDIA H200", "V100 SXM2": "Tesla V100-SXM2-32GB"}
        assert entry.name in published_gpu_peak(names.get(entry.name, f"NVIDIA {entry.name}"), "fp16").source


def test_cpu_peak_is_measured_and_described():
    peak = measure_cpu_peak_flops("fp32", size=64, repeats=2)
    assert isinstance(peak, PeakFlops) and peak.flops_per_second > 0
    assert "measured in this run" in peak.source and "64x64" in peak.source


def test_mps_has_no_peak_and_says_why():
    peak = peak_flops_for("mps", "fp32")
    assert peak.flops_per_second is None and "mps" in peak.source


def test_the_cpu_peak_is_two_n_cubed_over_the_fastest_matmul(monkeypatch):
    """An n x n matmul is 2 n^3 FLOPs (n multiply-adds per output element): a peak off by a
    factor of two would double or halve every MFU in the report."""
    from harness.throughput import peaks as peak_flops

    clock = iter([0.0, 0.5, 1.0, 1.25, 2.0, 2.4, 3.0, 3.3, 4.0, 4.5, 5.0, 5.6, 6.0, 6.5] + [float(i) for i in range(10, 200)])
    monkeypatch.setattr(peak_flops.time, "perf_counter", lambda: next(clock))
    peak = peak_flops.measure_cpu_peak_flops("fp32", size=64, repeats=5)
    assert peak.flops_per_second == pytest.approx(2 * 64**3 / 0.25)
