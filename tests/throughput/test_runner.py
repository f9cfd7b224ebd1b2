"""The throughput library: the case matrix, latency and spread maths, result figures, and the
Trainer step runner on a tiny random BERT for a couple of steps (what it does, never how fast)."""

from __future__ import annotations

import json

import pytest
import torch

from harness.run.data import MrpcSource
from harness.run.models import resolve_model
from harness.throughput.peaks import PeakFlops
from harness.throughput.runner import (
    LatencySummary,
    RoundPlan,
    ThroughputCase,
    ThroughputResult,
    TrainerStepRunner,
    coefficient_of_variation,
    measure_training_throughput,
    throughput_cases,
)
from harness.throughput.batches import sample_training_batches
from harness.run.flops import EncoderShape

from fake_throughput import fake_result, one_torch_thread  # noqa: F401  (an autouse fixture)

TINY = "arch:bert-tiny"
A_PEAK = PeakFlops(1e12, "a test's peak")


@pytest.fixture(scope="module")
def tiny_batches(smoke_dir):
    model_ref = resolve_model(TINY, hub_offline=True)
    return sample_training_batches(MrpcSource(smoke_dir).load()["train"], model_ref.load_tokenizer(), text_columns=("sentence1", "sentence2"), batch_size=4, count=2, seed=3)


def test_the_matrix_lists_each_device_kinds_precisions():
    cases = throughput_cases({"minilm": (8, 32), "arch:bert-base-uncased": (8,)}, devices=("cpu", "cuda:0", "mps"))
    ids = [c.id for c in cases]
    assert ids[:4] == ["minilm-cpu-fp32-b8", "minilm-cpu-fp32-b32", "minilm-cpu-bf16-b8", "minilm-cpu-bf16-b32"]
    assert {c.precision for c in cases if c.device == "cuda:0"} == {"fp32", "bf16", "fp16"}
    assert {c.precision for c in cases if c.device == "mps"} == {"fp32"}
    assert len(cases) == (2 + 3 + 1) * 3
    assert len(set(ids)) == len(ids)


def test_latency_percentiles_interpolate_linearly():
    summary = LatencySummary.of([float(x) for x in range(10, 0, -1)])  # order does not matter
    assert (summary.p50, summary.p90, summary.p99) == pytest.approx((5.5, 9.1, 9.91))
    assert (summary.mean, summary.min, summary.max) == (5.5, 1.0, 10.0)


def test_a_single_step_is_every_percentile():
    summary = LatencySummary.of([0.25])
    assert summary.p50 == summary.p90 == summary.p99 == summary.min == summary.max == 0.25


def test_no_steps_is_refused():
    with pytest.raises(ValueError, match="no step times"):
        LatencySummary.of([])


def test_coefficient_of_variation_is_the_sample_std_over_the_mean():
    assert coefficient_of_variation([9.0, 10.0, 11.0]) == pytest.approx(0.1)
    assert coefficient_of_variation([5.0, 5.0]) == 0.0
    assert coefficient_of_variation([5.0]) is None


def test_round_plans():
    assert RoundPlan.for_device("cuda:1").rounds > RoundPlan.for_device("cpu").rounds
    with pytest.raises(ValueError, match="rounds >= 1"):
        RoundPlan(1, 0)


def test_result_figures_follow_from_its_rounds():
    case = ThroughputCase("minilm", "cpu", "fp32", 8)
    result = fake_result(case, round_seconds=(2.0, 3.0, 1.0), steps_per_round=2, padded_length=80, real_length=60)
    assert result.seconds == 6.0
    assert result.samples == 48
    assert result.samples_per_second == pytest.approx(8.0)
    assert result.padded_tokens_per_second == pytest.approx(8.0 * 80)
    assert result.real_tokens_per_second == pytest.approx(8.0 * 60)
    assert result.mfu == pytest.approx(result.flops / 6.0 / 1e13)
    assert result.round_cv == pytest.approx(0.5)
    assert result.latency.max == 1.5


def test_without_a_peak_there_is_no_mfu():
    assert fake_result(ThroughputCase("minilm", "mps", "fp32", 8), peak=None).mfu is None


def test_result_json_is_flat_and_serialisable():
    figures = fake_result(ThroughputCase("minilm", "cpu", "fp32", 8)).to_json()
    json.dumps(figures)
    assert {"model", "device", "precision", "batch_size", "samples_per_second", "real_tokens_per_second",
            "padded_tokens_per_second", "mfu", "round_cv", "peak_memory_bytes", "step_latency_seconds"} <= set(figures)


def test_the_runner_takes_real_optimizer_steps(tiny_batches):
    case = ThroughputCase(TINY, "cpu", "fp32", 4)
    with TrainerStepRunner(case, tiny_batches, model_ref=resolve_model(TINY), warmup_rounds=1) as runner:
        before = {n: p.detach().clone() for n, p in runner.model.named_parameters()}
        runner.run_pass()  # warm-up: run, not recorded
        assert not runner._step_seconds
        runner.run_pass()
        after = dict(runner.model.named_parameters())
        changed = [n for n in before if not torch.equal(before[n], after[n].detach())]
        assert "classifier.weight" in changed and "bert.encoder.layer.0.attention.self.query.weight" in changed
        assert all(p.grad is None for p in runner.model.parameters())  # zero_grad after each step
        assert runner.trainer.lr_scheduler.last_epoch == 4  # one scheduler step per optimizer step
        assert type(runner.trainer.optimizer).__name__ == "AcceleratedOptimizer"
        result = runner.result(A_PEAK)
    assert len(result.step_seconds) == 2 and len(result.round_seconds) == 1
    assert result.warmup_steps == 2
    assert result.samples == 8
    assert (result.real_tokens, result.padded_tokens) == (tiny_batches.real_tokens, tiny_batches.padded_tokens)
    shape = EncoderShape.from_config(resolve_model(TINY).load_config())
    assert result.flops == shape.batches_flops(tiny_batches.shapes)
    assert result.memory.bytes > 0 and "RSS" in result.memory.source
    assert result.peak == A_PEAK and result.device_name


def test_measure_runs_the_plan(tiny_batches):
    case = ThroughputCase(TINY, "cpu", "fp32", 4)
    result = measure_training_throughput(case, tiny_batches, model_ref=resolve_model(TINY), plan=RoundPlan(1, 2), peak=A_PEAK)
    assert len(result.round_seconds) == 2 and len(result.step_seconds) == 4


def test_the_runner_refuses_a_case_this_machine_cannot_run(tiny_batches, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA GPU on this machine"):
        TrainerStepRunner(ThroughputCase(TINY, "cuda:0", "fp32", 4), tiny_batches, model_ref=resolve_model(TINY), warmup_rounds=1)


def test_the_runner_refuses_batches_of_another_size(tiny_batches):
    with pytest.raises(ValueError, match="not of batch size 8"):
        TrainerStepRunner(ThroughputCase(TINY, "cpu", "fp32", 8), tiny_batches, model_ref=resolve_model(TINY), warmup_rounds=1)


def test_no_measured_rounds_is_an_error(tiny_batches):
    with TrainerStepRunner(ThroughputCase(TINY, "cpu", "fp32", 4), tiny_batches, model_ref=resolve_model(TINY), warmup_rounds=1) as runner:
        runner.run_pass()
        with pytest.raises(RuntimeError, match="no measured rounds"):
            runner.result(A_PEAK)


def test_bf16_on_the_cpu_runs_under_the_trainers_autocast(tiny_batches):
    from harness.run.precision import cpu_bf16_unavailable_reason

    reason = cpu_bf16_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with TrainerStepRunner(ThroughputCase(TINY, "cpu", "bf16", 4), tiny_batches, model_ref=resolve_model(TINY), warmup_rounds=0) as runner:
        accelerator = runner.trainer.accelerator
        assert accelerator.mixed_precision == "bf16" and accelerator.native_amp
        runner.run_pass()
        assert runner.result(A_PEAK).step_seconds


@pytest.mark.parametrize(("cv", "rounds"), [(None, 3), (0.001, 3), (0.05, 25), (0.2, 40)])
def test_a_noisier_machine_gets_more_rounds_up_to_the_cap(cv, rounds):
    assert RoundPlan(1, 3, max_rounds=40, precision=0.02).rounds_for(cv) == rounds


def test_a_plan_without_a_cap_keeps_its_rounds():
    assert RoundPlan(1, 3).rounds_for(0.5) == 3
    with pytest.raises(ValueError, match="max_rounds"):
        RoundPlan(1, 3, max_rounds=2)


def test_a_slow_steps_fault_does_its_work_in_every_timed_step_and_is_recorded(tiny_batches, monkeypatch):
    from harness.run import slow_steps as slow_steps_module

    hooks = []
    original = slow_steps_module.SlowSteps.attach
    monkeypatch.setattr(slow_steps_module.SlowSteps, "attach", lambda self, model: hooks.append(self) or original(self, model))
    case = ThroughputCase(TINY, "cpu", "fp32", 4)
    with TrainerStepRunner(case, tiny_batches, model_ref=resolve_model(TINY), warmup_rounds=0,
                           faults=("slow-steps-30",)) as runner:
        runner.run_pass()
        result = runner.result(A_PEAK)
    [hook] = hooks
    assert hook.multiplies == sum(hook.work_for(*shape)[0] for shape in tiny_batches.shapes)
    assert result.faults == ("slow-steps-30",)
    assert ThroughputResult.from_record(json.loads(json.dumps(result.to_record()))) == result
    assert result.to_json()["faults"] == ["slow-steps-30"]


@pytest.mark.parametrize("faults, problem", [
    (("label-noise-10",), "changes what a model learns"),
    (("slow-steps-0",), "from 1 to 400"),
    (("slow-steps-10", "slow-steps-20"), "at most one slow-steps fault"),
])
def test_the_runner_refuses_a_fault_it_cannot_inject(tiny_batches, faults, problem):
    with pytest.raises(ValueError, match=problem):
        TrainerStepRunner(ThroughputCase(TINY, "cpu", "fp32", 4), tiny_batches, model_ref=resolve_model(TINY),
                          warmup_rounds=0, faults=faults)
