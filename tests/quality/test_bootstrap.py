"""The bootstrap intervals the gate prints beside every measured value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.quality.bootstrap import bootstrap_intervals, per_row_loss


def _predictions(rows: int, *, seed: int = 0, accuracy: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=rows)
    correct = rng.random(rows) < accuracy
    predicted = np.where(correct, labels, 1 - labels)
    logits = rng.normal(size=(rows, 2))
    logits[np.arange(rows), predicted] += 3.0  # make the predicted class the argmax
    return logits, labels


def _point_estimates(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    predicted = logits.argmax(axis=1)
    tp = ((predicted == 1) & (labels == 1)).sum()
    wrong = (predicted != labels).sum()
    return {
        "accuracy": float((predicted == labels).mean()),
        "f1": float(2 * tp / (2 * tp + wrong)),
        "loss": float(per_row_loss(logits, labels).mean()),
    }


def test_intervals_contain_the_point_estimate():
    """An interval that missed the value it was computed around would mislead every reader of the table."""
    logits, labels = _predictions(200)
    intervals = bootstrap_intervals(logits, labels, samples=500)
    for metric, value in _point_estimates(logits, labels).items():
        assert intervals[metric].low <= value <= intervals[metric].high, metric
        assert intervals[metric].low < intervals[metric].high, metric
        assert intervals[metric].confidence == 0.95


def test_intervals_narrow_with_more_rows():
    """The interval is meant to show evaluation-set noise, which shrinks as the set grows."""
    logits, labels = _predictions(40)
    small = bootstrap_intervals(logits, labels, samples=500)
    large = bootstrap_intervals(np.tile(logits, (16, 1)), np.tile(labels, 16), samples=500)
    for metric in ("accuracy", "f1", "loss"):
        assert large[metric].high - large[metric].low < 0.5 * (small[metric].high - small[metric].low), metric


def test_all_correct_predictions_have_no_spread():
    labels = np.array([0, 1] * 50)
    logits = np.eye(2)[labels] * 5.0
    intervals = bootstrap_intervals(logits, labels, samples=200)
    assert (intervals["accuracy"].low, intervals["accuracy"].high) == (1.0, 1.0)
    assert (intervals["f1"].low, intervals["f1"].high) == (1.0, 1.0)


@pytest.mark.parametrize("scale", [1.0, 100.0], ids=["typical", "large-logits"])
def test_per_row_loss_matches_torch_cross_entropy(scale):
    """The CI for loss must be over the same quantity the Trainer reports as eval loss."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(64, 2)) * scale
    labels = rng.integers(0, 2, size=64)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels), reduction="none")
    np.testing.assert_allclose(per_row_loss(logits, labels), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_seeded_intervals_are_reproducible():
    """A report re-rendered from the same run must show the same interval."""
    logits, labels = _predictions(60)
    first = bootstrap_intervals(logits, labels, samples=300, seed=7)
    assert bootstrap_intervals(logits, labels, samples=300, seed=7) == first
    assert bootstrap_intervals(logits, labels, samples=300, seed=8) != first


@pytest.mark.parametrize("samples", [0, -5])
def test_fewer_than_one_sample_is_rejected(samples):
    logits, labels = _predictions(10)
    with pytest.raises(ValueError, match="samples must be >= 1"):
        bootstrap_intervals(logits, labels, samples=samples)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_the_interval_width_matches_its_confidence(confidence):
    """A 90% interval printed as "95% CI" must fail a test: with 4,000 rows at 80% accuracy the
    bootstrap distribution of accuracy is close to normal, so the percentile interval's width is
    2 z sqrt(p (1 - p) / n) to within a few percent."""
    from scipy.stats import norm

    rows, accuracy = 4000, 0.8
    labels = np.zeros(rows, dtype=np.int64)
    logits = np.zeros((rows, 2))
    logits[: int(accuracy * rows), 0] = 1.0  # right on the first 80% of rows
    logits[int(accuracy * rows):, 1] = 1.0
    interval = bootstrap_intervals(logits, labels, samples=4000, confidence=confidence, seed=1)["accuracy"]
    expected = 2 * norm.ppf(0.5 + confidence / 2) * np.sqrt(accuracy * (1 - accuracy) / rows)
    assert interval.high - interval.low == pytest.approx(expected, rel=0.06)
    assert interval.confidence == confidence
