from __future__ import annotations

import dataclasses

import pytest

from harness.throughput.scaling import Layout, ScalingRun, scaling_markdown, torch_threads, write_scaling_report


def _run(smoke_result, processes: int, threads: int, samples_per_second: float) -> ScalingRun:
    throughput = dataclasses.replace(smoke_result.throughput, samples_per_second=samples_per_second)
    config = smoke_result.config.replace(world_size=processes)
    return ScalingRun(Layout(processes, threads), dataclasses.replace(smoke_result, throughput=throughput, config=config))


def test_the_table_states_each_layouts_speed_up_against_the_first(smoke_result):
    runs = [_run(smoke_result, 1, 2, 40.0), _run(smoke_result, 2, 1, 50.0)]
    text = scaling_markdown(runs, machine="test CPU, 2 cores")
    row_one = next(line for line in text.splitlines() if line.startswith("| 1 x 2"))
    row_two = next(line for line in text.splitlines() if line.startswith("| 2 x 1"))
    assert "| 40.0 " in row_one and "| 1.00x " in row_one
    assert "| 50.0 " in row_two and "| 1.25x " in row_two
    batch = smoke_result.config.recipe.batch_size
    assert row_two.rstrip(" |").endswith(str(2 * batch))  # DDP's global batch
    assert "test CPU, 2 cores" in text


def test_the_table_shows_the_tasks_metrics_of_each_layout(smoke_result):
    runs = [_run(smoke_result, 1, 2, 40.0)]
    header = next(line for line in scaling_markdown(runs, machine="m").splitlines() if line.startswith("| processes"))
    metrics = [name for name in smoke_result.metrics if name != "loss"]
    assert [cell.strip() for cell in header.strip("|").split("|")][4:-1] == metrics
    row = next(line for line in scaling_markdown(runs, machine="m").splitlines() if line.startswith("| 1 x 2"))
    assert all(f"| {smoke_result.metrics[name]:.4f} " in row for name in metrics)


def test_the_report_is_written_whole(smoke_result, tmp_path):
    path = write_scaling_report([_run(smoke_result, 1, 1, 10.0)], tmp_path, machine="m")
    assert path.name == "scaling.md" and path.read_text().startswith("# Distributed scaling")
    gpu = write_scaling_report([_run(smoke_result, 1, 1, 10.0)], tmp_path, machine="2 x GPU", filename="scaling-gpu.md")
    assert gpu.name == "scaling-gpu.md" and "2 x GPU" in gpu.read_text() and path.exists()


def test_torch_threads_are_restored_even_on_error():
    import torch

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError
    assert torch.get_num_threads() == before
