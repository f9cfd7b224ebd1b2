"""The session's throughput bench, with a stand-in for pytest-benchmark's fixture: skips are
recorded with their reason, batch samples are shared, results land in the session and in the
benchmark's extra_info."""

from __future__ import annotations

import json

import pytest
import torch

from harness.throughput import bench as throughput_bench
from harness.throughput.peaks import PeakFlops
from harness.project import Project
from harness.session import HarnessSession
from harness.settings import Settings
from harness.throughput.runner import RoundPlan, ThroughputCase
from harness.throughput.bench import ThroughputBench

from fake_throughput import one_torch_thread  # noqa: F401  (an autouse fixture)

TINY = ThroughputCase("arch:bert-tiny", "cpu", "fp32", 4)


class StandInBenchmark:
    """What the bench uses of pytest-benchmark's fixture: pedantic, group, extra_info, disabled."""

    def __init__(self, disabled: bool = False) -> None:
        self.disabled = disabled
        self.group = None
        self.extra_info: dict = {}
        self.calls = 0

    def pedantic(self, target, *, rounds, warmup_rounds, iterations):
        assert iterations == 1
        for _ in range(1 if self.disabled else warmup_rounds + rounds):
            target()
            self.calls += 1


@pytest.fixture
def session(smoke_dir, tmp_path):
    return HarnessSession(Project.of(Settings(data_dir=smoke_dir, hub_offline=True), tmp_path))


@pytest.fixture
def bench(session, monkeypatch):
    monkeypatch.setattr(throughput_bench, "peak_flops_for", lambda device, precision: PeakFlops(1e12, "a test's peak"))
    return ThroughputBench(session, batches_per_round=2)


def test_the_sessions_slow_steps_fault_reaches_the_steps_and_the_others_do_not(smoke_dir, tmp_path, monkeypatch):
    """``--harness-fault=slow-steps-N`` slows the benchmarked steps; a label-noise fault in the same
    session (for its quality checks) is not a throughput fault and must not stop the benchmarks."""
    monkeypatch.setattr(throughput_bench, "peak_flops_for", lambda device, precision: PeakFlops(1e12, "a test's peak"))
    session = HarnessSession(Project.of(Settings(data_dir=smoke_dir, hub_offline=True), tmp_path),
                             faults=("label-noise-10", "slow-steps-20"))
    result = ThroughputBench(session, batches_per_round=2).measure(TINY, StandInBenchmark(), plan=RoundPlan(0, 1))
    assert result.faults == ("slow-steps-20",)


def test_a_measured_case_is_recorded_with_its_figures(bench, session):
    benchmark = StandInBenchmark()
    result = bench.measure(TINY, benchmark, plan=RoundPlan(1, 2))
    assert benchmark.calls == 3
    assert session.throughput == [result] and bench.result_for(TINY) is result
    assert benchmark.group == "arch:bert-tiny, batch 4"
    assert benchmark.extra_info["samples_per_second"] == result.samples_per_second
    assert benchmark.extra_info["peak_flops_source"] == "a test's peak"
    json.dumps(benchmark.extra_info)


def test_disabled_benchmarks_record_nothing(bench, session):
    assert bench.measure(TINY, StandInBenchmark(disabled=True), plan=RoundPlan(1, 2)) is None
    assert session.throughput == []


def test_the_batch_sample_is_drawn_once_per_tokenizer_and_batch_size(bench):
    first = bench.batches(TINY)
    assert bench.batches(ThroughputCase("arch:bert-tiny", "cuda:0", "bf16", 4)) is first
    assert bench.batches(ThroughputCase("arch:bert-tiny", "cpu", "fp32", 2)) is not first


def test_skips_are_recorded_with_the_reason(bench, session, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    gpu = ThroughputCase("arch:bert-tiny", "cuda:0", "fp32", 4)
    reason = bench.skip_reason(gpu)
    assert reason.startswith("no CUDA GPU on this machine")
    assert session.throughput_skipped[-1].case == gpu
    assert bench.why_missing(gpu) == f"{gpu.id} was not measured: {reason}"
    assert bench.skip_reason(TINY) is None


def test_a_case_that_never_ran_says_so(bench):
    assert "was not measured in this run" in bench.why_missing(TINY)


def test_an_adaptive_plan_times_a_pilot_then_the_rounds_its_noise_needs(bench, session, monkeypatch):
    monkeypatch.setattr(throughput_bench, "coefficient_of_variation", lambda values: 0.05)  # needs 25 rounds at 2%
    benchmark = StandInBenchmark()
    result = bench.measure(TINY, benchmark, plan=RoundPlan(1, 2, max_rounds=6))
    assert benchmark.calls == 6 - 2  # the pilot's 2 rounds ran outside the timer, the cap holds the rest to 4
    assert len(result.round_seconds) == 6  # the pilot's rounds are measurements too


def test_the_cpu_peak_is_measured_once_per_session_and_precision(bench, monkeypatch):
    calls = []
    monkeypatch.setattr(throughput_bench, "peak_flops_for", lambda d, p: calls.append((d, p)) or PeakFlops(1e12, "x"))
    for batch_size in (2, 4):
        bench.peak(ThroughputCase("arch:bert-tiny", "cpu", "fp32", batch_size))
    bench.peak(ThroughputCase("arch:bert-tiny", "cpu", "bf16", 4))
    assert calls == [("cpu", "fp32"), ("cpu", "bf16")]
