"""What a fine-tune returns, and how it is stored: its config, metrics, predictions, throughput, provenance.

A result carries its :class:`~harness.run.config.RunConfig` typed, as it went down: whoever reads a
result (the gate, a ledger, a report) asks ``result.config.recipe`` instead of re-parsing a dict, and
a stored result that no longer parses as a config is an error naming the file, not a KeyError later.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.run.config import ConfigError, RunConfig
from harness.files import atomic_write_bytes, atomic_write_json

RESULT_SCHEMA = 1
RESULT_FILE = "result.json"
PREDICTIONS_FILE = "predictions.npz"


class ResultError(ValueError):
    """A stored result is missing or unreadable; the message says which file and what to do."""


@dataclass(frozen=True)
class TrainingThroughput:
    """How fast the Trainer trained: whole-run figures, warm-up and evaluation included."""

    train_seconds: float
    samples_per_second: float
    tokens_per_second: float  # real (unpadded) tokens
    train_samples: int
    epochs: float
    total_seconds: float


@dataclass(frozen=True)
class RunResult:
    config: RunConfig
    metrics: dict[str, float]
    logits: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    throughput: TrainingThroughput
    provenance: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    idx: np.ndarray | None = field(default=None, repr=False)  # each prediction row's example ``idx``, in split order
    # What the data check said when the splits loaded (harness.run.data.data_warnings): one message each,
    # with its counts. A result stored before there were any loads with none.
    data_warnings: tuple[str, ...] = ()

    @property
    def predictions(self) -> np.ndarray:
        """Each row's predicted class (the argmax of its logits), or its score for a regression head (one output)."""
        if self.logits.ndim == 2 and self.logits.shape[1] == 1:
            return self.logits[:, 0]
        return np.argmax(self.logits, axis=-1)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RESULT_SCHEMA,
            "config": self.config.to_dict(),
            "metrics": self.metrics,
            "throughput": asdict(self.throughput),
            "provenance": self.provenance,
            "history": self.history,
            "data_warnings": list(self.data_warnings),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``result.json`` and ``predictions.npz``; each appears whole or not at all."""
        directory = Path(directory)
        buffer = io.BytesIO()
        arrays = {"logits": self.logits, "labels": self.labels} | ({"idx": self.idx} if self.idx is not None else {})
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(directory / PREDICTIONS_FILE, buffer.getvalue())
        atomic_write_json(directory / RESULT_FILE, self.to_json())
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> RunResult:
        directory = Path(directory)
        result_file = directory / RESULT_FILE
        data = _read(result_file, lambda: json.loads(result_file.read_text()))
        logits, labels, idx = _read(directory / PREDICTIONS_FILE, lambda: _read_arrays(directory / PREDICTIONS_FILE))
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema != RESULT_SCHEMA:
            raise ResultError(f"{result_file}: schema {schema!r}, expected {RESULT_SCHEMA}; re-run")
        try:
            return cls(
                config=RunConfig.from_dict(data["config"]),
                metrics=data["metrics"],
                logits=logits,
                labels=labels,
                throughput=TrainingThroughput(**data["throughput"]),
                provenance=data["provenance"],
                history=data.get("history", []),
                idx=idx,
                data_warnings=_strings(data.get("data_warnings", [])),
            )
        except (KeyError, TypeError, ConfigError) as error:
            raise ResultError(f"{result_file}: incomplete result ({error!r}); delete {directory} and re-run") from error


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"data_warnings must be a list of strings, got {value!r}")
    return tuple(value)


def _read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    with np.load(path) as arrays:
        return arrays["logits"], arrays["labels"], (arrays["idx"] if "idx" in arrays.files else None)


# What a damaged file raises: json and numpy raise ValueError, a truncated archive BadZipFile or
# EOFError, a damaged member zlib.error, a missing array KeyError.
_DAMAGED = (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


def _read(path: Path, reader: Callable[[], Any]) -> Any:
    try:
        return reader()
    except FileNotFoundError as error:
        raise ResultError(f"{path}: missing; re-run the fine-tune to recreate it") from error
    except _DAMAGED as error:
        raise ResultError(
            f"{path}: unreadable ({type(error).__name__}: {error}); delete {path.parent} and re-run"
        ) from error
