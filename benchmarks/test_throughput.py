"""Training throughput, GPU against CPU: real Trainer steps on seeded MRPC batches.

Every model x device x precision x batch size is listed; what this machine cannot run skips with
the reason (no CUDA GPU, no native bf16 on the CPU, ...) and shows as "not measured" in
``reports/throughput.md``. Reports: ``throughput.md``, ``throughput.png`` and pytest-benchmark's
``benchmarks.json`` (harness figures in each benchmark's ``extra_info``) in the reports folder.

Batch sizes: MiniLM at 8 and 32, bert-base at 8 and 16. 8 is the course recipe's batch and common
ground for both models; 32 is the ``minilm-cpu`` recipe's batch; bert-base stops at 16 because a
bert-base step at 16 already takes seconds on two CPU cores and the CPU matrix (two models, two
batch sizes, fp32 and, where native, bf16) must stay within a few minutes. The same batch sizes
run on a GPU, so a GPU-against-CPU speedup compares identical work (a GPU is under-used at these
sizes; the speedup is for this workload, not the GPU's best).

Absolute regressions: save a run and compare later runs on the same machine with pytest-benchmark
(see docs/throughput.md)::

    pytest benchmarks -m throughput --benchmark-save=baseline
    pytest benchmarks -m throughput --benchmark-compare=0001 --benchmark-compare-fail=min:25%

Relative checks below compare two cases of this run, so they hold on a noisy shared machine.
"""

from __future__ import annotations

import pytest

from harness.throughput.runner import ThroughputCase, throughput_cases

BATCH_SIZES = {"minilm": (8, 32), "arch:bert-base-uncased": (8, 16)}
CASES = throughput_cases(BATCH_SIZES)


def _param(case: ThroughputCase):
    marks = [pytest.mark.gpu] if case.device_kind == "cuda" else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.throughput
@pytest.mark.slow
@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_training_throughput(case, benchmark, training_throughput):
    training_throughput.measure(case, benchmark)


@pytest.mark.throughput
def test_minilm_trains_faster_than_bert_base_on_cpu(training_throughput):
    training_throughput.assert_relative(
        ThroughputCase("minilm", "cpu", "fp32", 8),
        ThroughputCase("arch:bert-base-uncased", "cpu", "fp32", 8),
        min_ratio=2.0,
        why="MiniLM-L6 computes about an eighth of bert-base's FLOPs per token; 2x leaves room for noise and "
            "for its optimizer step over a dense word-embedding gradient",
    )


@pytest.mark.throughput
@pytest.mark.gpu
def test_bf16_not_slower_than_fp32_on_gpu(training_throughput):
    training_throughput.assert_relative(
        ThroughputCase("arch:bert-base-uncased", "cuda:0", "bf16", 16),
        ThroughputCase("arch:bert-base-uncased", "cuda:0", "fp32", 16),
        min_ratio=1.0,
        why="bf16 autocast runs bert-base's matmuls on tensor cores at many times the fp32 rate",
    )
