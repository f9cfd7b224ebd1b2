"""Hand-built history records, so the store and the series are tested without a benchmark run:
every number is chosen here, never measured."""

from __future__ import annotations

import datetime as dt

from harness.history.records import (
    Boundary, Machine, QualityRecord, RunMetrics, SessionRecord, ThroughputRecord,
)

LAPTOP = Machine("Test CPU 3000", None, 4)
GPU_BOX = Machine("Test CPU 9000", "NVIDIA H100 80GB HBM3", 16)
START = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
CHECK = "benchmarks/test_quality.py::test_mrpc_minilm"
CASE = "minilm-cpu-fp32-b8"


def fake_quality(check: str = CHECK, *, identity: str = "baseline-a", accuracy: float = 0.85,
                 seeds: tuple[int, ...] = (42, 43)) -> QualityRecord:
    runs = tuple(RunMetrics(seed, {"accuracy": accuracy + 0.01 * i, "f1": 0.88}) for i, seed in enumerate(seeds))
    means = {"accuracy": sum(r.metrics["accuracy"] for r in runs) / len(runs), "f1": 0.88}
    return QualityRecord(check, "mrpc-minilm", identity, "run-1234", "no regression", len(runs), runs,
                         {"accuracy": Boundary(0.80, 0.83), "f1": Boundary(None, 0.86)}, means,
                         {"accuracy": 0.84, "f1": 0.88})


def fake_throughput(case: str = CASE, *, samples_per_s: float = 100.0, faults: tuple[str, ...] = ()) -> ThroughputRecord:
    return ThroughputRecord(case, "cpu", "fp32", samples_per_s, 0.02 * samples_per_s, 3, faults=faults)


def fake_session(index: int, *, commit: str | None = None, machine: Machine = LAPTOP,
                 quality: tuple[QualityRecord, ...] | None = None,
                 throughput: tuple[ThroughputRecord, ...] | None = None) -> SessionRecord:
    """Session ``index`` runs ``index`` minutes after START, on commit ``c<index>`` unless told."""
    return SessionRecord(
        commit=commit or f"c{index}", branch="main", time=(START + dt.timedelta(minutes=index)).isoformat(),
        machine=machine, versions={"torch": "2.13.0", "transformers": "5.1.0"},
        quality=(fake_quality(),) if quality is None else quality,
        throughput=(fake_throughput(),) if throughput is None else throughput,
    )
