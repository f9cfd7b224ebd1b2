"""Throughput cases run under pytest-benchmark's timer and recorded for the session's reports.

The pytest plugin hands each benchmark here; this object loads MRPC once, draws each batch sample
once (shared by every device and precision of a model and batch size), measures the device's peak,
lets ``benchmark.pedantic`` drive the rounds, and keeps every result and skip for the end-of-session
reports. pytest-benchmark keeps the round times (for ``--benchmark-save``/``--benchmark-compare``);
the harness figures travel in each benchmark's ``extra_info``.
"""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

from harness.run.data import MrpcSource
from harness.run.faults import step_faults
from harness.tasks.glue import MRPC
from harness.run.models import resolve_model
from harness.throughput.peaks import PeakFlops, peak_flops_for
from harness.throughput.runner import (
    BATCH_SEED,
    BATCHES_PER_ROUND,
    RoundPlan,
    ThroughputCase,
    ThroughputResult,
    ThroughputSkip,
    TrainerStepRunner,
    coefficient_of_variation,
)
from harness.throughput.batches import TrainingBatches, sample_training_batches

if TYPE_CHECKING:  # it records into the session it is handed; the session layer sits above this one
    from harness.session import HarnessSession

MAX_LENGTH = 128  # the minilm-cpu recipe's truncation; MRPC pairs rarely reach it


class ThroughputBench:
    def __init__(self, session: HarnessSession, *, batches_per_round: int = BATCHES_PER_ROUND, seed: int = BATCH_SEED) -> None:
        self.session = session
        self.batches_per_round = batches_per_round
        self.seed = seed
        self._train = None
        self._batches: dict[tuple[str, int], TrainingBatches] = {}
        self._peaks: dict[tuple[str, str], PeakFlops] = {}

    def peak(self, case: ThroughputCase) -> PeakFlops:
        """The device's peak for the case's precision, measured (on a CPU) once per session."""
        key = (case.device, case.precision)
        if key not in self._peaks:
            self._peaks[key] = peak_flops_for(case.device, case.precision)
        return self._peaks[key]

    def skip_reason(self, case: ThroughputCase) -> str | None:
        """Why ``case`` cannot run here (recorded for the report), or None."""
        reason = case.unavailable_reason()
        if reason is not None:
            self.session.throughput_skipped.append(ThroughputSkip(case, reason))
        return reason

    def record_failure(self, case: ThroughputCase, error: BaseException) -> None:
        """A case that raised keeps its row in the report, saying it failed and with what."""
        message = " ".join(str(error).split())
        message = message if len(message) <= 300 else message[:297] + "..."
        self.session.throughput_skipped.append(ThroughputSkip(case, f"{type(error).__name__}: {message}", failed=True))

    def batches(self, case: ThroughputCase) -> TrainingBatches:
        model_ref = resolve_model(case.model, hub_offline=self.session.settings.hub_offline)
        key = (model_ref.tokenizer_source, case.batch_size)
        if key not in self._batches:
            if self._train is None:
                settings = self.session.settings
                self._train = MrpcSource(settings.data_dir, settings.hub_offline).load()["train"]
            self._batches[key] = sample_training_batches(
                self._train, model_ref.load_tokenizer(), text_columns=MRPC.text_columns, batch_size=case.batch_size,
                count=self.batches_per_round, seed=self.seed, max_length=MAX_LENGTH,
            )
        return self._batches[key]

    def measure(self, case: ThroughputCase, benchmark: Any, plan: RoundPlan | None = None) -> ThroughputResult | None:
        """Time ``case`` with ``benchmark.pedantic`` and record it; None when benchmarks are disabled
        (``--benchmark-disable`` runs each target once, which is a smoke test, not a measurement)."""
        plan = plan or RoundPlan.for_device(case.device)
        batches = self.batches(case)
        model_ref = resolve_model(case.model, hub_offline=self.session.settings.hub_offline)
        benchmark.group = f"{case.model}, batch {case.batch_size}"
        with TrainerStepRunner(case, batches, model_ref=model_ref, warmup_rounds=plan.warmup_rounds, seed=self.seed,
                               faults=step_faults(self.session.faults)) as runner:
            peak = self.peak(case)
            rounds, warmup = plan.rounds, plan.warmup_rounds
            if plan.max_rounds is not None and not getattr(benchmark, "disabled", False):
                # Warm-up and pilot rounds outside pytest-benchmark's timer; the runner keeps the pilot's
                # times, and the pilot's spread says how many more rounds the plan's precision needs.
                for _ in range(plan.warmup_rounds + plan.rounds):
                    runner.run_pass()
                rounds, warmup = max(plan.rounds_for(coefficient_of_variation(runner.round_seconds)) - plan.rounds, 1), 0
            benchmark.pedantic(runner.run_pass, rounds=rounds, warmup_rounds=warmup, iterations=1)
            if getattr(benchmark, "disabled", False):
                return None
            result = runner.result(peak)
        benchmark.extra_info.update(result.to_json())
        self.session.throughput.append(result)
        return result

    def result_for(self, case: ThroughputCase) -> ThroughputResult | None:
        return next((r for r in self.session.throughput if r.case == case), None)

    def why_missing(self, case: ThroughputCase) -> str:
        skip = next((s for s in self.session.throughput_skipped if s.case == case), None)
        if skip is not None and skip.failed:
            return f"{case.id} failed: {skip.reason}"
        reason = skip.reason if skip is not None else case.unavailable_reason()
        if reason is not None:
            return f"{case.id} was not measured: {reason}"
        return f"{case.id} was not measured in this run (deselected, or its benchmark failed or was skipped)"
