"""Hand-built fine-tune results, so the gate, baselines, cache and regression flow can be tested
without training: each result is deterministic in its config's seed and internally consistent
(its metrics are computed from its own logits and labels, as a real run's are).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.tasks.metrics import per_row_loss
from harness.run.config import RunConfig
from harness.run.result import RunResult, TrainingThroughput

DATA_SHA256 = "d" * 64
ARCHITECTURE_SHA256 = "a" * 64
VERSIONS = {"python": "3.11.0", "torch": "2.13.0", "transformers": "5.0.0", "datasets": "4.0.0"}


def smoke_run_config(seed: int = 42, **changes: Any) -> RunConfig:
    """The smoke recipe on the CPU, as the plugin would build it (no data folder needed by fakes)."""
    return RunConfig.from_recipe("smoke", device="cpu", seed=seed, **changes)


def model_provenance(**changes: Any) -> dict[str, Any]:
    return {
        "spec": "arch:bert-tiny",
        "kind": "arch",
        "source": "bert-tiny",
        "weights_sha256": None,
        "weights": "random initialisation from the run seed",
        "architecture_sha256": ARCHITECTURE_SHA256,
    } | changes


def run_result(
    config: RunConfig | None = None,
    *,
    accuracy: float = 0.75,
    rows: int = 80,
    data_sha256: str = DATA_SHA256,
    model: dict[str, Any] | None = None,
    versions: dict[str, str] | None = None,
) -> RunResult:
    """A result whose predictions are right on exactly ``round(accuracy * rows)`` rows."""
    config = config or smoke_run_config()
    rng = np.random.default_rng(config.seed)
    labels = rng.integers(0, 2, size=rows)
    correct = np.zeros(rows, dtype=bool)
    correct[rng.permutation(rows)[: round(accuracy * rows)]] = True
    predictions = np.where(correct, labels, 1 - labels)
    logits = np.zeros((rows, 2), dtype=np.float32)
    logits[np.arange(rows), predictions] = rng.uniform(0.2, 2.0, size=rows)
    tp = int(((predictions == 1) & (labels == 1)).sum())
    fp_fn = int((predictions != labels).sum())
    metrics = {
        "accuracy": float(correct.mean()),
        "f1": 2 * tp / (2 * tp + fp_fn) if tp + fp_fn else 0.0,
        "loss": float(per_row_loss(logits, labels).mean()),
    }
    provenance = {
        "versions": dict(versions or VERSIONS),
        "platform": {"system": "Linux", "release": "test", "machine": "x86_64", "python": "3.11.0"},
        "device": {"device": "cpu", "cpu": "test CPU", "cpu_count": 2, "torch_threads": 2},
        "git": {"commit": None, "dirty": None},
        "created": "2025-01-01T00:00:00+00:00",
        "seed": config.seed,
        "model": model or model_provenance(),
        "data": {"source": "test", "files": {}, "sha256": data_sha256},
        "precision": config.precision,
    }
    throughput = TrainingThroughput(
        train_seconds=1.0, samples_per_second=48.0, tokens_per_second=2000.0, train_samples=24, epochs=2.0, total_seconds=1.5
    )
    return RunResult(config, metrics, logits, labels.astype(np.int64), throughput, provenance)


@dataclass
class FakeFineTune:
    """A ``fine_tune`` stand-in: accuracy 0.70, 0.75 or 0.80 by seed, and a record of the seeds asked for."""

    accuracy_offset: float = 0.0
    seeds: list[int] = field(default_factory=list)

    def __call__(self, config: RunConfig) -> RunResult:
        self.seeds.append(config.seed)
        return run_result(config, accuracy=0.70 + 0.05 * (config.seed % 3) + self.accuracy_offset)


def no_settings(path: Path) -> Path:
    """An empty pyproject.toml at ``path``: a project with no [tool.harness] settings (a given
    --pyproject must exist)."""
    path.write_text("", encoding="utf-8")
    return path
