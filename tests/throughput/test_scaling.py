from __future__ import annotations

import dataclasses

import pytest

from harness.throughput.scaling import Layout, ScalingRun, scaling_markdown, torch_threads, write_scaling_report


def _run(smoke_result, processes: int, threads: int, samples_per_second: float) -> ScalingRun:
    throughput = dataclasses.replace(smoke_result.throughput, samples_per_second=samples_per_second)
    config = {**smoke_result.config, "world_size": processes}
    return ScalingRun(Layout(processes, threads), dataclasses.replace(smoke_result, throughput=throughput, config=config))


def test_the_table_states_each_layouts_speed_up_against_the_first(smoke_result):
    runs = [_run(smoke_result, 1, 2, 40.0), _run(smoke_result, 2, 1, 50.0)]
    text = scaling_markdown(runs, machine="test CPU, 2 cores")
    row_one = next(line for line in text.splitlines() if line.startswith("| 1 x 2"))
    row_two = next(line for line in text.splitlines() if line.startswith("| 2 x 1"))
    assert "| 40.0 " in row_one and "| 1.00x " in row_one
    assert "| 50.0 " in row_two and "| 1.25x " in row_two
    batch = smoke_result.config["recipe"]["batch_size"]
    assert row_two.rstrip(" |").endswith(str(2 * batch))  # DDP's global batch
    assert "test CPU, 2 cores" in text


def test_the_report_is_written_whole(smoke_result, tmp_path):
    path = write_scaling_report([_run(smoke_result, 1, 1, 10.0)], tmp_path, machine="m")
    assert path.read_text().startswith("# Distributed scaling")


def test_torch_threads_are_restored_even_on_error():
    import torch

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError
    assert torch.get_num_threads() == before
