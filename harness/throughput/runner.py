"""Training throughput: real Trainer steps on a fixed sample of MRPC batches, timed per step.

A step is what ``Trainer.train()`` does per batch, through the Trainer's own machinery:
``trainer.training_step`` (inputs moved to the device, forward under the Trainer's autocast,
loss, ``accelerator.backward`` with the gradient scaler under fp16), gradient clipping at
``max_grad_norm``, the AdamW step and the scheduler step, then ``zero_grad``. The model and
optimizer are prepared by the Trainer's accelerator exactly as ``train()`` prepares them, so bf16
and fp16 mean what they mean in a real fine-tune. Data loading is not timed: the batches are
collated once, so the figures are the model's, not the loader's.

Each round is one pass over the same batches, so every round does identical work: the spread of
round times (their coefficient of variation) is noise, not batch-length variety, and
pytest-benchmark's saved round statistics compare like with like across runs. Warm-up rounds
(kernel selection, allocator growth, lazy initialisation) are run and discarded. GPU steps end
with ``synchronize`` before the clock is read, as the Trainer's own loop syncs on every step's
loss.
"""

from __future__ import annotations

import gc
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from harness.run.devices import device_index, device_kind
from harness.run.precision import PRECISIONS_BY_DEVICE_KIND, benchmark_devices, unavailable_reason
from harness.run.models import ResolvedModel
from harness.throughput.peaks import PeakFlops
from harness.throughput.memory import PeakMemory, PeakMemoryMonitor
from harness.run.provenance import cpu_name
from harness.throughput.batches import TrainingBatches
from harness.run.faults import fault_problems, step_faults
from harness.run.flops import EncoderShape
from harness.run.slow_steps import inject_slow_steps

BATCH_SEED = 42
BATCHES_PER_ROUND = 2
LEARNING_RATE = 5e-5


@dataclass(frozen=True)
class ThroughputCase:
    """One benchmark cell: which model trains where, in which precision, at which batch size."""

    model: str
    device: str
    precision: str
    batch_size: int

    @property
    def id(self) -> str:
        return f"{self.model}-{self.device}-{self.precision}-b{self.batch_size}"

    def __str__(self) -> str:
        return self.id

    @property
    def device_kind(self) -> str:
        return device_kind(self.device)

    def unavailable_reason(self) -> str | None:
        """Why this case cannot be measured on this machine, or None."""
        return unavailable_reason(self.device, self.precision)


def throughput_cases(batch_sizes: Mapping[str, Sequence[int]], devices: Sequence[str] | None = None) -> list[ThroughputCase]:
    """Every model x device x precision x batch size the matrix lists, available here or not.

    >>> [c.id for c in throughput_cases({"minilm": (8,)}, devices=("cpu",))]
    ['minilm-cpu-fp32-b8', 'minilm-cpu-bf16-b8']
    """
    devices = benchmark_devices() if devices is None else devices
    return [
        ThroughputCase(model, device, precision, batch_size)
        for model, sizes in batch_sizes.items()
        for device in devices
        for precision in PRECISIONS_BY_DEVICE_KIND[device_kind(device)]
        for batch_size in sizes
    ]


@dataclass(frozen=True)
class ThroughputSkip:
    """A case that was not measured, and why: the report shows it as "not measured", or as "FAILED"
    when it was meant to run here and raised (``failed``), so a broken case never just vanishes."""

    case: ThroughputCase
    reason: str
    failed: bool = False

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ThroughputSkip:
        return cls(ThroughputCase(**record["case"]), record["reason"], record.get("failed", False))


Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class RoundPlan:
    """How many rounds (passes over the batches) to discard as warm-up and how many to time.

    With ``max_rounds`` the plan adapts to the noise it meets: ``rounds`` pilot rounds are timed
    first, and from their spread (CV) enough further rounds to know the mean round time to
    ``precision`` (relative half-width of its 95% interval), at most ``max_rounds`` in all. Three
    rounds at a CV of 10% know the mean to only about +-11%: too few to see a 10% slowdown.
    """

    warmup_rounds: int
    rounds: int
    max_rounds: int | None = None
    precision: float = 0.02

    def __post_init__(self) -> None:
        if self.warmup_rounds < 0 or self.rounds < 1:
            raise ValueError(f"need warmup_rounds >= 0 and rounds >= 1, got {self.warmup_rounds} and {self.rounds}")
        if self.max_rounds is not None and self.max_rounds < self.rounds:
            raise ValueError(f"max_rounds ({self.max_rounds}) must be >= rounds ({self.rounds})")
        if not 0 < self.precision < 1:
            raise ValueError(f"precision must be in (0, 1), got {self.precision}")

    def rounds_for(self, cv: float | None) -> int:
        """Rounds in all so that ``Z95 * cv / sqrt(n) <= precision``, within [rounds, max_rounds].

        >>> RoundPlan(1, 3, max_rounds=40, precision=0.02).rounds_for(0.05)
        25
        """
        if self.max_rounds is None or cv is None:
            return self.rounds
        needed = math.ceil((Z95 * cv / self.precision) ** 2)
        return min(max(needed, self.rounds), self.max_rounds)

    @classmethod
    def for_device(cls, device: str) -> RoundPlan:
        """A CPU step is seconds and the CPU warms up in one pass; a GPU step is milliseconds, so a GPU
        affords more warm-up (cuBLAS heuristics, allocator) and many more rounds for a tight spread.
        The caps keep the CPU matrix within minutes; the report states the precision reached."""
        return {"cpu": cls(1, 3, max_rounds=10), "cuda": cls(3, 20, max_rounds=200), "mps": cls(3, 10, max_rounds=100)}[
            device_kind(device)
        ]


@dataclass(frozen=True)
class LatencySummary:
    """Step latency percentiles in seconds (linear interpolation between ranks, numpy's default)."""

    p50: float
    p90: float
    p99: float
    mean: float
    min: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        """
        >>> LatencySummary.of([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).p90
        9.1
        """
        values = np.asarray(seconds, dtype=float)
        if values.size == 0:
            raise ValueError("no step times to summarise")
        p50, p90, p99 = (float(x) for x in np.percentile(values, [50, 90, 99]))
        return cls(p50=p50, p90=p90, p99=p99, mean=float(values.mean()), min=float(values.min()), max=float(values.max()))


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation over the mean; None with fewer than two values.

    >>> round(coefficient_of_variation([9.0, 10.0, 11.0]), 3)
    0.1
    """
    if len(values) < 2:
        return None
    array = np.asarray(values, dtype=float)
    return float(array.std(ddof=1) / array.mean())


@dataclass(frozen=True)
class ThroughputResult:
    """What one case measured: its timed steps and rounds, the work they did, and what it cost."""

    case: ThroughputCase
    device_name: str
    warmup_steps: int
    step_seconds: tuple[float, ...]
    round_seconds: tuple[float, ...]
    samples: int
    real_tokens: int
    padded_tokens: int
    flops: float
    peak: PeakFlops
    memory: PeakMemory
    parameters: int
    load_average: float | None = None
    faults: tuple[str, ...] = ()  # deliberate faults injected into the steps (a planted slowdown), for the record

    @property
    def seconds(self) -> float:
        return float(sum(self.round_seconds))

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds

    @property
    def real_tokens_per_second(self) -> float:
        return self.real_tokens / self.seconds

    @property
    def padded_tokens_per_second(self) -> float:
        return self.padded_tokens / self.seconds

    @property
    def achieved_flops_per_second(self) -> float:
        return self.flops / self.seconds

    @property
    def mfu(self) -> float | None:
        """Achieved over peak FLOP/s, or None where the peak is not known (``peak.source`` says why)."""
        if self.peak.flops_per_second is None:
            return None
        return self.achieved_flops_per_second / self.peak.flops_per_second

    @property
    def latency(self) -> LatencySummary:
        return LatencySummary.of(self.step_seconds)

    @property
    def round_cv(self) -> float | None:
        return coefficient_of_variation(self.round_seconds)

    @property
    def mean_half_width(self) -> float | None:
        """Relative half-width of the 95% interval of the mean round time: how well samples/s is known."""
        cv = self.round_cv
        return None if cv is None else Z95 * cv / math.sqrt(len(self.round_seconds))

    @property
    def detectable_change(self) -> float | None:
        """The smallest change in samples/s that a comparison with another run of the same noise and
        rounds tells from noise (two-sided, 95%): the difference of two means has sqrt(2) their error."""
        half = self.mean_half_width
        return None if half is None else math.sqrt(2) * half

    def to_record(self) -> dict[str, Any]:
        """Everything, losslessly, as plain data: how a pytest-xdist worker hands a result to the controller."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ThroughputResult:
        fields = dict(record)
        return cls(
            **fields | {
                "case": ThroughputCase(**fields["case"]),
                "peak": PeakFlops(**fields["peak"]),
                "memory": PeakMemory(**fields["memory"]),
                "step_seconds": tuple(fields["step_seconds"]),
                "round_seconds": tuple(fields["round_seconds"]),
                "faults": tuple(fields.get("faults", ())),
            }
        )

    def to_json(self) -> dict[str, Any]:
        """Flat, JSON-ready figures (pytest-benchmark's ``extra_info`` and the reports)."""
        return {
            **asdict(self.case),
            "device_name": self.device_name,
            "samples_per_second": self.samples_per_second,
            "real_tokens_per_second": self.real_tokens_per_second,
            "padded_tokens_per_second": self.padded_tokens_per_second,
            "step_latency_seconds": asdict(self.latency),
            "round_cv": self.round_cv,
            "mean_half_width_95": self.mean_half_width,
            "detectable_change_95": self.detectable_change,
            "rounds": len(self.round_seconds),
            "measured_steps": len(self.step_seconds),
            "warmup_steps": self.warmup_steps,
            "samples": self.samples,
            "real_tokens": self.real_tokens,
            "padded_tokens": self.padded_tokens,
            "training_flops": self.flops,
            "achieved_flops_per_second": self.achieved_flops_per_second,
            "peak_flops_per_second": self.peak.flops_per_second,
            "peak_flops_source": self.peak.source,
            "mfu": self.mfu,
            "peak_memory_bytes": self.memory.bytes,
            "peak_memory_source": self.memory.source,
            "parameters": self.parameters,
            "load_average_1min": self.load_average,
            "faults": list(self.faults),
        }


def synchronize(device: str) -> None:
    """Wait for queued GPU work, so the clock reads what the device did, not what was queued."""
    import torch

    kind = device_kind(device)
    if kind == "cuda":
        torch.cuda.synchronize()
    elif kind == "mps":
        torch.mps.synchronize()


def load_average() -> float | None:
    """The 1-minute load average: how much other work competed for the cores (None where unknown)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def device_name(device: str) -> str:
    import torch

    kind = device_kind(device)
    if kind == "cuda":
        return torch.cuda.get_device_name(device_index(device))
    if kind == "mps":
        return "Apple MPS"
    return cpu_name()


class TrainerStepRunner:
    """Real Trainer training steps on fixed batches; each :meth:`run_pass` is one round.

    The first ``warmup_rounds`` passes are warm-up: run, not recorded. ``close()`` frees the model
    and optimizer so the next case starts from the same memory. Usable without pytest::

        runner = TrainerStepRunner(case, batches, model_ref=resolve_model("minilm"), warmup_rounds=1)
        for _ in range(4):
            runner.run_pass()
        result = runner.result(measure_cpu_peak_flops())
    """

    def __init__(self, case: ThroughputCase, batches: TrainingBatches, *, model_ref: ResolvedModel,
                 warmup_rounds: int, seed: int = BATCH_SEED, faults: tuple[str, ...] = ()) -> None:
        from transformers import Trainer, TrainingArguments
        from harness.run.transformers_logging import errors_only

        reason = case.unavailable_reason()
        if reason:
            raise RuntimeError(f"{case}: {reason}")
        if any(shape[0] != case.batch_size for shape in batches.shapes):
            raise ValueError(f"{case}: batches are not of batch size {case.batch_size}: {batches.shapes}")
        problems = fault_problems(faults)
        unsupported = [fault for fault in faults if fault not in step_faults(faults)]
        if problems or unsupported:
            raise ValueError(f"{case}: " + "; ".join(problems or [
                f"{', '.join(unsupported)} changes what a model learns, not how fast a step runs; the throughput "
                "bench injects only slow-steps-N"]))
        self.case = case
        self.batches = batches
        self.warmup_rounds = warmup_rounds
        self._rounds_run = 0
        self._step_seconds: list[float] = []
        self._round_seconds: list[float] = []
        self._memory = PeakMemoryMonitor(case.device)
        self._output_dir = tempfile.TemporaryDirectory(prefix="harness-throughput-")

        self.faults = tuple(faults)
        model = model_ref.load_for_classification(num_labels=2, seed=seed)
        self.shape = EncoderShape.from_config(model.config)
        inject_slow_steps(model, self.faults)
        self.parameters = sum(p.numel() for p in model.parameters())
        args = TrainingArguments(
            output_dir=self._output_dir.name,
            per_device_train_batch_size=case.batch_size,
            learning_rate=LEARNING_RATE,
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
            seed=seed,
            use_cpu=case.device_kind == "cpu",
            bf16=case.precision == "bf16",
            fp16=case.precision == "fp16",
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        if args.device.type != case.device_kind:
            raise RuntimeError(f"{case}: the Trainer chose device {args.device}, not {case.device}")
        with errors_only():  # "no train_dataset" and similar notices do not apply here
            trainer = Trainer(model=model, args=args)
        # What Trainer.train() does before its loop: the optimizer, then the accelerator's prepare
        # (device placement, the autocast wrapper, the fp16 gradient scaler), then the scheduler.
        trainer.create_optimizer()
        model, trainer.optimizer = trainer.accelerator.prepare(trainer.model, trainer.optimizer)
        trainer.model_wrapped = model
        # A long nominal horizon: the linear schedule keeps the learning rate (and so the work) the
        # same across the few steps measured.
        trainer.create_scheduler(num_training_steps=1_000_000, optimizer=trainer.optimizer)
        trainer.current_gradient_accumulation_steps = 1
        self.trainer = trainer
        self.model = model
        # On a GPU the Trainer's loader hands over pinned batches (dataloader_pin_memory), so the copy
        # to the device that training_step makes is the one a real fine-tune makes.
        pin = case.device_kind == "cuda" and args.dataloader_pin_memory
        self._batches = [{k: v.pin_memory() for k, v in b.items()} if pin else b for b in batches.batches]
        self._num_items = [trainer.get_batch_samples(iter([batch]), 1, args.device)[1] for batch in self._batches]

    @property
    def round_seconds(self) -> tuple[float, ...]:
        """The measured (post-warm-up) rounds so far."""
        return tuple(self._round_seconds)

    @property
    def measuring(self) -> bool:
        return self._rounds_run >= self.warmup_rounds

    def step(self, batch, num_items_in_batch) -> None:
        """One optimizer step, as ``Trainer.train()`` takes it (gradient accumulation 1)."""
        trainer = self.trainer
        trainer.training_step(self.model, batch, num_items_in_batch)
        if trainer.args.max_grad_norm and trainer.args.max_grad_norm > 0:
            trainer.accelerator.clip_grad_norm_(self.model.parameters(), trainer.args.max_grad_norm)
        trainer.optimizer.step()
        if not trainer.accelerator.optimizer_step_was_skipped:
            trainer.lr_scheduler.step()
        self.model.zero_grad()

    def run_pass(self) -> None:
        """One round: a step on each batch, each timed to the device's completion."""
        if self._rounds_run == self.warmup_rounds:
            self._memory.start()
        synchronize(self.case.device)
        round_started = time.perf_counter()
        steps = []
        for batch, num_items in zip(self._batches, self._num_items):
            started = time.perf_counter()
            self.step(batch, num_items)
            synchronize(self.case.device)
            steps.append(time.perf_counter() - started)
        elapsed = time.perf_counter() - round_started
        if self.measuring:
            self._step_seconds.extend(steps)
            self._round_seconds.append(elapsed)
        self._rounds_run += 1

    def result(self, peak: PeakFlops) -> ThroughputResult:
        rounds = len(self._round_seconds)
        if rounds == 0:
            raise RuntimeError(f"{self.case}: no measured rounds ({self._rounds_run} run, {self.warmup_rounds} of them warm-up)")
        memory = self._memory.stop()
        return ThroughputResult(
            case=self.case,
            device_name=device_name(self.case.device),
            warmup_steps=self.warmup_rounds * len(self.batches),
            step_seconds=tuple(self._step_seconds),
            round_seconds=tuple(self._round_seconds),
            samples=self.batches.samples * rounds,
            real_tokens=self.batches.real_tokens * rounds,
            padded_tokens=self.batches.padded_tokens * rounds,
            flops=self.shape.batches_flops(self.batches.shapes) * rounds,
            peak=peak,
            memory=memory,
            parameters=self.parameters,
            load_average=load_average(),
            faults=self.faults,
        )

    def close(self) -> None:
        import torch

        self.trainer = self.model = None  # type: ignore[assignment]
        self._batches, self._num_items = [], []
        gc.collect()
        if self.case.device_kind == "cuda":
            torch.cuda.empty_cache()
        self._output_dir.cleanup()

    def __enter__(self) -> TrainerStepRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def measure_training_throughput(case: ThroughputCase, batches: TrainingBatches, *, model_ref: ResolvedModel,
                                plan: RoundPlan, peak: PeakFlops) -> ThroughputResult:
    """The whole measurement without pytest-benchmark: warm-up, timed rounds, result."""
    with TrainerStepRunner(case, batches, model_ref=model_ref, warmup_rounds=plan.warmup_rounds) as runner:
        for _ in range(plan.warmup_rounds + plan.rounds):
            runner.run_pass()
        return runner.result(peak)


