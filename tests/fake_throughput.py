"""Hand-built throughput results, so reports, charts and relative checks are tested without
training: each is internally consistent (samples, tokens and FLOPs follow from its rounds), and
every number is chosen here, never measured.
"""

from __future__ import annotations

import pytest

from harness.throughput.peaks import PeakFlops
from harness.throughput.memory import PeakMemory
from harness.throughput.runner import ThroughputCase, ThroughputResult, ThroughputSkip

NO_GPU = "no CUDA GPU on this machine: torch.cuda.is_available() is False (a test's words)"


def fake_result(case: ThroughputCase, *, round_seconds=(2.0, 2.1, 1.9), steps_per_round: int = 2,
                padded_length: int = 80, real_length: int = 60, peak: float | None = 1e13,
                memory: int | None = 3 * 2**30) -> ThroughputResult:
    rounds = len(round_seconds)
    samples = rounds * steps_per_round * case.batch_size
    step_seconds = tuple(s / steps_per_round for s in round_seconds for _ in range(steps_per_round))
    return ThroughputResult(
        case=case,
        device_name="Test CPU" if case.device == "cpu" else "NVIDIA H100 80GB HBM3",
        warmup_steps=steps_per_round,
        step_seconds=step_seconds,
        round_seconds=tuple(round_seconds),
        samples=samples,
        real_tokens=samples * real_length,
        padded_tokens=samples * padded_length,
        flops=samples * padded_length * 6e8,
        peak=PeakFlops(peak, "a test's peak" if peak else "no published peak (a test's words)"),
        memory=PeakMemory(memory, "a test's memory"),
        parameters=109_000_000 if "bert-base" in case.model else 23_000_000,
        load_average=1.5,
    )


def cpu_only_session(models=("minilm", "arch:bert-base-uncased"), batch_sizes=(8, 16)):
    """Results for CPU fp32 and skips for every CUDA precision, as a machine without a GPU records."""
    results, skipped = [], []
    for model in models:
        for batch_size in batch_sizes:
            slower = 4.0 if "bert-base" in model else 1.0
            results.append(fake_result(ThroughputCase(model, "cpu", "fp32", batch_size),
                                       round_seconds=(slower * batch_size / 8,) * 3))
            skipped += [ThroughputSkip(ThroughputCase(model, "cuda:0", precision, batch_size), NO_GPU)
                        for precision in ("fp32", "bf16", "fp16")]
    return results, skipped


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """A tiny model gains nothing from threads, and on a busy machine each parallel region waits for
    a time slice: one thread keeps the step-runner tests fast wherever they run. Import it into a
    test module to apply it there."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
