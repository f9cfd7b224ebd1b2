"""Bootstrap confidence intervals for MRPC metrics: how much a number moves with the eval set.

With 408 validation pairs one flipped prediction moves accuracy by 0.25 points, so a measured
value means little without its interval. Resampling the pairs (not retraining) gives it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    confidence: float


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator, dtype=float), where=denominator > 0)


def per_row_loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy of each row, as the Trainer's eval loss averages it."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def bootstrap_intervals(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile intervals for accuracy, F1 and loss over ``samples`` resamples of the rows."""
    if samples < 1:
        raise ValueError("bootstrap samples must be >= 1")
    labels = np.asarray(labels).astype(np.int64)
    predictions = np.argmax(logits, axis=-1)
    losses = per_row_loss(np.asarray(logits), labels)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(labels), size=(samples, len(labels)))
    truth, guess = labels[rows], predictions[rows]
    tp = ((guess == 1) & (truth == 1)).sum(axis=1)
    fp = ((guess == 1) & (truth == 0)).sum(axis=1)
    fn = ((guess == 0) & (truth == 1)).sum(axis=1)
    draws = {
        "accuracy": (guess == truth).mean(axis=1),
        "f1": _f1(tp, fp, fn),
        "loss": losses[rows].mean(axis=1),
    }
    tail = (1 - confidence) / 2 * 100
    return {
        name: Interval(float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)), confidence)
        for name, values in draws.items()
    }
