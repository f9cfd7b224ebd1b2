"""Distributed scaling on this machine's CPU: one MiniLM fine-tune laid out as 1 process x all
cores against one process per core (DDP, gloo), side by side in one sitting. Writes
``scaling.md`` to the reports folder with samples/s, the speed-up and each layout's accuracy and F1.

A slice (512 training pairs, one epoch) keeps it to about a minute per layout on two cores; the
validation set is the whole of MRPC's, so every layout is scored on the same 408 pairs.
"""

from __future__ import annotations

import os

import pytest

from harness.provenance import cpu_name
from harness.throughput.scaling import Layout, measure_layouts, write_scaling_report

SLICE = {"max_train_samples": 512, "epochs": 1.0}


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
    for run in runs:
        assert run.result.logits.shape == (408, 2)
        assert run.result.config.get("world_size", 1) == run.layout.processes
