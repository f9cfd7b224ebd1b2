"""Distributed scaling, side by side in one sitting, written to the reports folder with samples/s,
the speed-up and each layout's accuracy and F1:

- on this machine's CPU (``scaling.md``): one MiniLM fine-tune laid out as 1 process x all cores
  against one process per core (DDP, gloo). A slice (512 training pairs, one epoch) keeps it to
  about a minute per layout on two cores;
- on its CUDA GPUs (``scaling-gpu.md``, skipped with the reason where there are fewer than two):
  one GPU against one DDP process per GPU (nccl), on all of MRPC's training pairs for one epoch.

The validation set is the whole of MRPC's, so every layout is scored on the same 408 pairs.
"""

from __future__ import annotations

import os

import pytest

from harness.run.provenance import cpu_name
from harness.throughput.scaling import Layout, measure_layouts, write_scaling_report

SLICE = {"max_train_samples": 512, "epochs": 1.0}
GPU_EPOCH = {"epochs": 1.0}


@pytest.mark.throughput
@pytest.mark.slow
def test_minilm_cpu_layouts(harness, tmp_path):
    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip(f"a layout comparison needs at least 2 cores; this machine has {cores}")
    config = harness.config("minilm-cpu", device="cpu", output_dir=tmp_path, **SLICE)
    layouts = [Layout(processes=1, threads=cores), Layout(processes=cores, threads=1)]
    runs = measure_layouts(config, layouts, hub_offline=harness.settings.hub_offline)
    path = write_scaling_report(runs, harness.settings.reports_dir, machine=f"{cpu_name()}, {cores} cores")
    print(path.read_text())
    check_layouts(runs, device="cpu")


def check_layouts(runs, *, device: str) -> None:
    """Each layout trained as laid out, on ``device``, and was scored on all 408 validation pairs."""
    for run in runs:
        assert run.result.logits.shape == (408, 2)
        assert run.result.config.world_size == run.layout.processes
        assert run.result.provenance["device"]["device"].startswith(device)


@pytest.mark.throughput
@pytest.mark.slow
def test_minilm_gpu_layouts(harness, tmp_path):
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < 2:
        built = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        pytest.skip(f"a multi-GPU layout comparison needs at least 2 CUDA GPUs; torch {torch.__version__} ({built}) "
                    f"sees {count}")
    config = harness.config("minilm-cpu", device="cuda", output_dir=tmp_path, **GPU_EPOCH)
    layouts = [Layout(processes=1, threads=1), Layout(processes=count, threads=1)]
    runs = measure_layouts(config, layouts, hub_offline=harness.settings.hub_offline)
    machine = f"{count} x {torch.cuda.get_device_name(0)}, {cpu_name()}"
    path = write_scaling_report(runs, harness.settings.reports_dir, machine=machine, filename="scaling-gpu.md")
    print(path.read_text())
    check_layouts(runs, device="cuda")
