"""Percentile bootstrap confidence intervals for any registered metric, over the evaluation rows.

How much would a measured value move with another draw of evaluation rows, the model fixed? With
408 MRPC pairs one flipped prediction moves accuracy by 0.25 points, so a value means little
without its interval, and resampling the rows (not retraining) gives it cheaply. The interval says
nothing about seed-to-seed variation in training.

The procedure is the percentile bootstrap (Efron and Tibshirani, *An Introduction to the Bootstrap*,
1993, ch. 13): draw ``samples`` resamples of the n rows with replacement, recompute each metric on
every resample, and report the (1 - confidence)/2 and 1 - (1 - confidence)/2 quantiles of the
recomputed values (numpy's default, linear interpolation). Resample i holds the rows
``rng.integers(0, n, size=n)``, drawn in order from ``np.random.default_rng(seed)``, so one seed
gives one set of intervals on any machine. Parameters, all here: ``samples=1000``,
``confidence=0.95``, ``seed=0``, ``max_undefined=0.01``.

Two paths, one result. ``accuracy``, ``f1`` and ``loss`` are sums of per-row terms (correct or not;
true positive, false positive, false negative; each row's loss), so all resamples are computed at
once from those terms, which keeps 1000 resamples of 40,000 QQP rows cheap. Any other metric
(``matthews_correlation``, ``pearson``, ``spearmanr``, one you register) is computed by calling its
function on each resample. The path follows the function registered under a name, not the name,
so an ``accuracy`` registered with another function takes the general path.

A resample can leave a metric undefined where the whole evaluation set does not: no positive
example drawn (f1), a single class drawn (matthews_correlation), one label or one predicted value
drawn (pearson, spearmanr). Such resamples are left out of the interval and counted in
``Interval.undefined``, so the interval is conditional on the metric being defined, as the point
estimate is. Leaving out a share u of the resamples can move the interval's ends by up to u in
probability (a 95% interval may then hold only 95 - 100u percent), so a share above
``max_undefined`` raises :class:`MetricUndefinedError`: the evaluation set is too small for that
metric's interval. A metric undefined on the whole evaluation set raises the metric's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.tasks.metrics import (
    EvalRows,
    MetricFunction,
    MetricRegistry,
    MetricUndefinedError,
    accuracy,
    builtin_metrics,
    eval_rows,
    f1,
    loss,
    per_row_loss,
)

# Resampled row indices held in memory at once (16 MB of int64): QQP's 40,430 rows give chunks of 49 resamples.
MAX_RESAMPLED_ROWS = 2_000_000

# A statistic over a chunk of resamples (row indices of shape (resamples, n)): the values, and which are defined.
Statistic = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval; ``undefined`` counts the resamples left out because the metric had no value on them."""

    low: float
    high: float
    confidence: float
    undefined: int = 0


def _vectorised(function: MetricFunction, rows: EvalRows) -> Statistic | None:
    """All resamples at once for the metrics that are sums of per-row terms; None for any other function."""
    if function is accuracy:
        correct = rows.predictions == rows.references
        return lambda draws: (correct[draws].mean(axis=1), np.ones(len(draws), dtype=bool))
    if function is f1:
        truth, guess = rows.references == 1, rows.predictions == 1

        def f1_of(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            drawn_truth, drawn_guess = truth[draws], guess[draws]
            tp = (drawn_truth & drawn_guess).sum(axis=1)
            fp = (~drawn_truth & drawn_guess).sum(axis=1)
            fn = (drawn_truth & ~drawn_guess).sum(axis=1)
            defined = tp + fn > 0  # as f1(): undefined without a positive label
            values = np.divide(2 * tp, 2 * tp + fp + fn, out=np.full(len(draws), np.nan), where=defined)
            return values, defined

        return f1_of
    if function is loss:
        terms = per_row_loss(rows.outputs, rows.references)
        return lambda draws: (terms[draws].mean(axis=1), np.ones(len(draws), dtype=bool))
    return None


def _looped(function: MetricFunction, predictions: np.ndarray, references: np.ndarray) -> Statistic:
    """One call of the metric's function per resample; a resample it finds undefined is marked, not raised."""

    def statistic(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = np.full(len(draws), np.nan)
        defined = np.zeros(len(draws), dtype=bool)
        for index, drawn in enumerate(draws):
            try:
                values[index] = function(predictions[drawn], references[drawn])
            except MetricUndefinedError:
                continue
            defined[index] = True
        return values, defined

    return statistic


def _check_parameters(samples: Any, confidence: Any, max_undefined: Any) -> None:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"bootstrap samples must be >= 1, a whole number (1000 is the default), got {samples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (0.95 for a 95% interval), got {confidence!r}")
    if not 0 <= max_undefined < 1:
        raise ValueError(f"max_undefined is a share of the resamples, in [0, 1) (0.01 is the default), got {max_undefined!r}")


def _too_often_undefined(
    name: str, function: MetricFunction, predictions: np.ndarray, references: np.ndarray, *, undefined: int,
    samples: int, max_undefined: float,
) -> MetricUndefinedError:
    """The error for a metric undefined on too many resamples, with the metric's own reason from one of them."""
    try:
        function(predictions, references)
        reason = "it had no value"
    except MetricUndefinedError as error:
        reason = error.reason
    return MetricUndefinedError(
        name,
        f"on {undefined} of {samples} bootstrap resamples, more than the {max_undefined:.2%} allowed "
        f"(on the first such resample, {reason})",
        f"Its interval needs more evaluation rows; or raise max_undefined, or leave {name} out of the intervals",
    )


def bootstrap_intervals(
    outputs: Any,
    labels: Any,
    *,
    metrics: Sequence[str],
    num_labels: int,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    max_undefined: float = 0.01,
    registry: MetricRegistry | None = None,
) -> dict[str, Interval]:
    """Percentile intervals for each of ``metrics`` over ``samples`` resamples of the evaluation rows.

    ``outputs`` and ``labels`` are what the Trainer's ``compute_metrics`` receives (logits (n, k)
    with class labels, or regression scores (n,) or (n, 1) with float labels), checked as
    :func:`harness.tasks.metrics.eval_rows` checks them. ``loss`` is the Trainer's evaluation loss:
    cross-entropy for classification, squared error for regression.

    >>> logits = np.array([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0]] * 25)
    >>> labels = np.array([0, 1, 0, 0] * 25)
    >>> intervals = bootstrap_intervals(logits, labels, metrics=("accuracy", "matthews_correlation"), num_labels=2, samples=200)
    >>> intervals["accuracy"].low < 0.75 < intervals["accuracy"].high
    True
    """
    _check_parameters(samples, confidence, max_undefined)
    registry = builtin_metrics() if registry is None else registry
    specs = registry.resolve(metrics, num_labels=num_labels)
    rows = eval_rows((outputs, labels), num_labels=num_labels)
    statistics: dict[str, Statistic] = {}
    for spec in specs:
        function = registry.function(spec.name)
        function(rows.for_kind(spec.kind), rows.references)  # undefined on the whole set: the metric's own error
        statistics[spec.name] = _vectorised(function, rows) or _looped(
            function, rows.for_kind(spec.kind), rows.references
        )

    n = len(rows.references)
    rng = np.random.default_rng(seed)
    chunk = max(1, MAX_RESAMPLED_ROWS // n)
    values = {name: [] for name in statistics}
    defined = {name: [] for name in statistics}
    first_undefined: dict[str, np.ndarray] = {}
    for start in range(0, samples, chunk):
        draws = rng.integers(0, n, size=(min(chunk, samples - start), n))
        for name, statistic in statistics.items():
            chunk_values, chunk_defined = statistic(draws)
            values[name].append(chunk_values)
            defined[name].append(chunk_defined)
            if name not in first_undefined and not chunk_defined.all():
                first_undefined[name] = draws[np.flatnonzero(~chunk_defined)[0]].copy()

    tail = (1 - confidence) / 2 * 100
    intervals = {}
    for spec in specs:
        name = spec.name
        kept = np.concatenate(values[name])[np.concatenate(defined[name])]
        undefined = samples - kept.size
        if undefined > max_undefined * samples:
            drawn = first_undefined[name]
            raise _too_often_undefined(
                name, registry.function(name), rows.for_kind(spec.kind)[drawn], rows.references[drawn],
                undefined=undefined, samples=samples, max_undefined=max_undefined,
            )
        low, high = np.percentile(kept, [tail, 100 - tail])
        intervals[name] = Interval(float(low), float(high), confidence, undefined)
    return intervals
