"""The throughput report and chart: "not measured" where nothing ran, speedups only between cases
measured in the same run, and a PNG a person can open."""

from __future__ import annotations

import dataclasses

import matplotlib.image
import pytest

from harness.throughput.runner import ThroughputCase, ThroughputSkip
from harness.throughput.report import gpu_against_cpu, throughput_markdown, throughput_rows, write_throughput_reports

from fake_throughput import NO_GPU, cpu_only_session, fake_result

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rows_by_id(results, skipped):
    rows, footnotes = throughput_rows(results, skipped)
    return {f"{r[0]}-{r[1]}-{r[2]}-b{r[3]}": r for r in rows}, footnotes


def test_without_a_gpu_every_gpu_row_says_not_measured_and_why():
    results, skipped = cpu_only_session()
    rows, footnotes = rows_by_id(results, skipped)
    gpu_rows = [row for key, row in rows.items() if "-cuda:0-" in key]
    assert len(gpu_rows) == 2 * 2 * 3
    assert all(row[4] == "not measured [1]" for row in gpu_rows)
    assert footnotes == {NO_GPU: "[1]"}
    markdown = throughput_markdown(results, skipped)
    assert f"[1] {NO_GPU}" in markdown
    assert f"GPU against CPU: not measured: {NO_GPU}." in markdown
    assert "GPU: none measured" in markdown


def test_cpu_fp32_rows_are_their_own_baseline():
    results, skipped = cpu_only_session()
    rows, _ = rows_by_id(results, skipped)
    assert rows["minilm-cpu-fp32-b8"][-1] == "1.00x"


def test_speedup_only_when_both_cases_ran():
    cpu = fake_result(ThroughputCase("minilm", "cpu", "fp32", 8), round_seconds=(2.0,) * 3)
    gpu = fake_result(ThroughputCase("minilm", "cuda:0", "bf16", 8), round_seconds=(0.05,) * 3)
    lonely_gpu = fake_result(ThroughputCase("minilm", "cuda:0", "bf16", 32), round_seconds=(0.05,) * 3)
    rows, _ = rows_by_id([cpu, gpu, lonely_gpu], [])
    assert rows["minilm-cuda:0-bf16-b8"][-1] == "40.00x"
    assert rows["minilm-cuda:0-bf16-b32"][-1] == "–"
    table = gpu_against_cpu([cpu, gpu, lonely_gpu], [])[0]
    assert "| 40.0x" in table
    assert "not measured (no CPU fp32 run)" in table


def test_unknown_peak_means_mfu_not_measured():
    result = fake_result(ThroughputCase("minilm", "mps", "fp32", 8), peak=None)
    rows, _ = rows_by_id([result], [])
    assert rows["minilm-mps-fp32-b8"][11] == "not measured"


def test_an_mfu_above_100_percent_is_reported_as_a_measurement_error():
    """No device beats its own peak: 108% MFU means the peak was measured low, not a fast step."""
    result = fake_result(ThroughputCase("arch:bert-base-uncased", "cpu", "fp32", 16), peak=1e9)
    assert result.mfu > 1
    rows, footnotes = rows_by_id([result], [])
    cell = rows["arch:bert-base-uncased-cpu-fp32-b16"][11]
    assert cell == "error [1]"
    (reason,) = footnotes
    assert reason.startswith("measurement error: training reached") and "no MFU is reported" in reason
    assert f"{result.mfu:.0%}" in reason


def test_each_row_says_how_well_its_samples_per_second_is_known():
    result = fake_result(ThroughputCase("minilm", "cpu", "fp32", 8), round_seconds=(2.0, 2.2, 1.8, 2.0))
    rows, _ = rows_by_id([result], [])
    expected = 1.959963984540054 * result.round_cv / 2
    assert rows["minilm-cpu-fp32-b8"][5] == f"±{expected:.1%} (4 rounds)"
    assert result.detectable_change == pytest.approx(expected * 2**0.5)


def test_rows_follow_model_batch_device_precision_order():
    results, skipped = cpu_only_session(models=("minilm",), batch_sizes=(8,))
    rows, _ = throughput_rows(results, skipped)
    assert [(r[1], r[2]) for r in rows] == [("cpu", "fp32"), ("cuda:0", "fp32"), ("cuda:0", "bf16"), ("cuda:0", "fp16")]


def test_the_published_point_is_labelled_as_context():
    results, skipped = cpu_only_session()
    markdown = throughput_markdown(results, skipped)
    assert "Titan RTX in 2:21 (fp32) and 1:10 (fp16)" in markdown
    assert "Published, not measured here" in markdown


def test_the_method_and_machine_are_stated():
    results, skipped = cpu_only_session()
    markdown = throughput_markdown(results, skipped)
    assert "6 x N_encoder x B x S + 12 x L x H x S x (B x S) + 6 x N_head x B" in markdown
    assert "minilm-cpu-fp32-b8: a test's peak" in markdown
    assert "torch threads" in markdown and "Libraries:" in markdown and "transformers" in markdown


def test_reports_are_written_and_the_chart_is_a_png(tmp_path):
    results, skipped = cpu_only_session()
    summary = tmp_path / "summary.md"
    written = write_throughput_reports(results, skipped, tmp_path / "reports", step_summary=summary)
    assert [p.name for p in written] == ["throughput.md", "throughput.png"]
    png = (tmp_path / "reports" / "throughput.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    height, width, _ = matplotlib.image.imread(tmp_path / "reports" / "throughput.png").shape
    assert width > height > 100
    assert "![Training throughput by device and precision](throughput.png)" in written[0].read_text()
    assert "# Training throughput" in summary.read_text() and "throughput.png" not in summary.read_text()


@pytest.mark.parametrize("with_gpu", [False, True])
def test_the_chart_draws_any_mix_of_measured_and_skipped(tmp_path, with_gpu):
    results, skipped = cpu_only_session()
    if with_gpu:
        results += [fake_result(ThroughputCase("minilm", "cuda:0", p, 8), round_seconds=(0.05,) * 3) for p in ("fp32", "bf16")]
        skipped = [ThroughputSkip(ThroughputCase("minilm", "mps", "fp32", 8), "no MPS (a test's words)")]
    written = write_throughput_reports(results, skipped, tmp_path)
    assert written[1].read_bytes().startswith(PNG_SIGNATURE)


def test_nothing_to_report_writes_nothing(tmp_path):
    assert write_throughput_reports([], [], tmp_path) == []
    assert not list(tmp_path.iterdir())


def test_a_noisy_run_is_flagged_under_the_table():
    steady = fake_result(ThroughputCase("minilm", "cpu", "fp32", 8), round_seconds=(2.0, 2.0, 2.0))
    noisy = fake_result(ThroughputCase("minilm", "cpu", "fp32", 32), round_seconds=(1.0, 2.0, 3.0))
    assert "Noisy run" not in throughput_markdown([steady], [])
    markdown = throughput_markdown([steady, noisy], [])
    assert "**Noisy run**: round CV above 5% in minilm-cpu-fp32-b32 (50.0%)." in markdown
    assert "minilm-cpu-fp32-b8 (" not in markdown.split("**Noisy run**")[1].split("\n")[0]


def test_a_planted_slowdown_is_said_above_the_figures():
    results, skipped = cpu_only_session()
    assert "Planted fault" not in throughput_markdown(results, skipped)
    planted = [dataclasses.replace(result, faults=("slow-steps-25",)) for result in results]
    assert "**Planted fault**: slow-steps-25" in throughput_markdown(planted, skipped)
