"""``harness.tasks.bootstrap``: percentile intervals for every metric, checked against what they claim.

The claims: an interval holds its point estimate, narrows as rows are added, is the stated
quantiles of the resampled statistic (so a 90% interval cannot pass as a 95% one), covers the true
value about as often as its confidence says, replays from its seed, and is the same whether a
metric takes the vectorised path or the general one. Resamples on which a metric is undefined are
left out and counted, and too many of them raise.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import f1_score

from harness.tasks import metrics as m
from harness.tasks.bootstrap import Interval, bootstrap_intervals
from harness.tasks.metrics import MetricRegistry, MetricUndefinedError, builtin_metrics
from tests.strategies import classification_batches, regression_batches

CLASSIFICATION = ("accuracy", "f1", "matthews_correlation", "loss")
# Logits as a Trainer hands them over. float64 logits near its largest value can differ by more than
# float64 holds, which makes a row's cross-entropy infinite and a loss interval's ends NaN.
MODEL_DTYPES = st.sampled_from([np.dtype(np.float16), np.dtype(np.float32)])
REGRESSION = ("pearson", "spearmanr", "loss")


def simulated_classification(rows: int, *, seed: int = 0, accuracy: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Two-class logits right on about ``accuracy`` of the rows, with both classes present."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=rows)
    predicted = np.where(rng.random(rows) < accuracy, labels, 1 - labels)
    logits = rng.normal(size=(rows, 2))
    logits[np.arange(rows), predicted] += 3.0  # make the predicted class the argmax
    return logits, labels


def simulated_regression(rows: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """STS-B-like labels on a 0-5 grid and float32 scores correlated with them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 26, size=rows) / 5
    scores = (labels + rng.normal(scale=1.0, size=rows)).astype(np.float32)
    return scores, labels


def point_estimate(name: str, outputs: np.ndarray, labels: np.ndarray) -> float:
    spec = builtin_metrics().spec(name)
    predictions = outputs.argmax(axis=1) if spec.kind == "label" else outputs
    return builtin_metrics().function(name)(predictions, labels)


def general_path_registry(names: tuple[str, ...]) -> MetricRegistry:
    """The built-in metrics, each registered through a wrapper, so none is recognised for the fast path."""
    builtin = builtin_metrics()
    registry = MetricRegistry()
    for name in names:
        function = builtin.function(name)
        registry.register(builtin.spec(name), lambda predictions, references, function=function: function(predictions, references))
    return registry


@pytest.mark.parametrize(
    ("metrics", "num_labels", "simulate"),
    [(CLASSIFICATION, 2, simulated_classification), (REGRESSION, 1, simulated_regression)],
    ids=["classification", "regression"],
)
def test_intervals_contain_the_point_estimate(metrics, num_labels, simulate):
    """An interval that missed the value it was computed around would mislead every reader of the table."""
    outputs, labels = simulate(200)

    intervals = bootstrap_intervals(outputs, labels, metrics=metrics, num_labels=num_labels, samples=400)

    assert tuple(intervals) == metrics
    for name in metrics:
        interval = intervals[name]
        assert interval.low < point_estimate(name, outputs, labels) < interval.high, name
        assert (interval.confidence, interval.undefined) == (0.95, 0), name


@pytest.mark.parametrize(
    ("metrics", "num_labels", "simulate"),
    [(CLASSIFICATION, 2, simulated_classification), (REGRESSION, 1, simulated_regression)],
    ids=["classification", "regression"],
)
def test_intervals_narrow_with_more_rows(metrics, num_labels, simulate):
    """The interval shows evaluation-set noise, which falls as 1/sqrt(rows): 16 times the rows, a quarter the width."""
    outputs, labels = simulate(40)
    small = bootstrap_intervals(outputs, labels, metrics=metrics, num_labels=num_labels, samples=300)
    tiled_outputs = np.tile(outputs, (16, 1)) if outputs.ndim == 2 else np.tile(outputs, 16)
    large = bootstrap_intervals(tiled_outputs, np.tile(labels, 16), metrics=metrics, num_labels=num_labels, samples=300)

    for name in metrics:
        assert large[name].high - large[name].low < 0.5 * (small[name].high - small[name].low), name


@given(
    batch=classification_batches(num_labels=st.just(2), dtypes=MODEL_DTYPES, min_rows=2, max_rows=24),
    confidence=st.floats(min_value=0.5, max_value=0.995),
    samples=st.integers(min_value=1, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_the_interval_is_the_stated_quantiles_of_the_resampled_statistic(batch, confidence, samples, seed):
    """The documented scheme, recomputed here: resample i is rng.integers(0, n, size=n) in order, and the
    ends are the (1 - c)/2 and (1 + c)/2 quantiles. An interval of another confidence than its label fails."""
    n = len(batch.labels)
    draws = np.random.default_rng(seed).integers(0, n, size=(samples, n))
    predictions = batch.logits.argmax(axis=1)
    resampled = {
        "accuracy": [np.mean(predictions[rows] == batch.labels[rows]) for rows in draws],
        "loss": [m.loss(batch.logits[rows], batch.labels[rows]) for rows in draws],
    }

    intervals = bootstrap_intervals(
        batch.logits, batch.labels, metrics=("accuracy", "loss"), num_labels=2, samples=samples, confidence=confidence, seed=seed
    )

    for name, values in resampled.items():
        low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
        assert intervals[name].low == pytest.approx(low, rel=1e-9, abs=1e-12), name
        assert intervals[name].high == pytest.approx(high, rel=1e-9, abs=1e-12), name
        assert intervals[name].confidence == confidence


@pytest.mark.parametrize("path", ["fast", "general"])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_the_interval_width_matches_normal_theory(confidence, path):
    """With 4,000 rows at 80% accuracy the bootstrap distribution of accuracy is close to normal, so the
    percentile interval's width is 2 z sqrt(p (1 - p) / n) to within a few percent, on either path."""
    rows, accuracy = 4000, 0.8
    labels = np.zeros(rows, dtype=np.int64)
    logits = np.zeros((rows, 2))
    logits[: int(accuracy * rows), 0] = 1.0  # right on the first 80% of rows
    logits[int(accuracy * rows):, 1] = 1.0
    registry = general_path_registry(("accuracy",)) if path == "general" else None

    interval = bootstrap_intervals(
        logits, labels, metrics=("accuracy",), num_labels=2, samples=4000, confidence=confidence, seed=1, registry=registry
    )["accuracy"]

    expected = 2 * norm.ppf(0.5 + confidence / 2) * np.sqrt(accuracy * (1 - accuracy) / rows)
    assert interval.high - interval.low == pytest.approx(expected, rel=0.06)
    assert interval.confidence == confidence


def test_95_percent_intervals_cover_the_true_accuracy_95_percent_of_the_time():
    """Coverage by simulation: 1,000 evaluation sets of 200 rows from a model right with probability
    0.7525 (between two attainable accuracies, so no interval end sits on it). These seeds give 95.1%
    coverage (binomial sd 0.7 points); a 90% interval labelled 95% covers 89.9% here and fails."""
    rng = np.random.default_rng(2024)
    true_accuracy, rows, sets = 0.7525, 200, 1000
    labels = np.zeros(rows, dtype=np.int64)
    covered = 0
    for index in range(sets):
        right = rng.random(rows) < true_accuracy
        logits = np.stack([right, ~right], axis=1).astype(np.float64)
        interval = bootstrap_intervals(logits, labels, metrics=("accuracy",), num_labels=2, samples=500, seed=index)["accuracy"]
        covered += interval.low <= true_accuracy <= interval.high
    assert 0.935 <= covered / sets <= 0.965


@given(batch=classification_batches(num_labels=st.just(2), dtypes=MODEL_DTYPES, min_rows=2, max_rows=24), seed=st.integers(min_value=0, max_value=2**32 - 2))
def test_seeded_intervals_are_reproducible(batch, seed):
    """A report re-rendered from the same run must show the same interval."""
    first = bootstrap_intervals(batch.logits, batch.labels, metrics=("accuracy", "loss"), num_labels=2, samples=50, seed=seed)

    assert bootstrap_intervals(batch.logits, batch.labels, metrics=("accuracy", "loss"), num_labels=2, samples=50, seed=seed) == first


def test_another_seed_draws_other_resamples():
    logits, labels = simulated_classification(60)

    first = bootstrap_intervals(logits, labels, metrics=("accuracy", "loss"), num_labels=2, samples=300, seed=7)

    assert bootstrap_intervals(logits, labels, metrics=("accuracy", "loss"), num_labels=2, samples=300, seed=8) != first


@given(
    batch=classification_batches(num_labels=st.just(2), dtypes=MODEL_DTYPES, min_rows=1, max_rows=24),
    samples=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_the_general_path_equals_the_fast_path(batch, samples, seed):
    """Same resamples, same values, same undefined count: the vectorised accuracy, F1 and loss are only faster."""

    def run(registry):
        try:
            return bootstrap_intervals(
                batch.logits, batch.labels, metrics=("accuracy", "f1", "loss"), num_labels=2,
                samples=samples, seed=seed, max_undefined=0.5, registry=registry,
            )
        except MetricUndefinedError as error:
            return str(error)

    fast, general = run(None), run(general_path_registry(("accuracy", "f1", "loss")))

    if isinstance(fast, str):
        assert general == fast
    else:
        assert {name: fast[name] for name in ("accuracy", "f1")} == {name: general[name] for name in ("accuracy", "f1")}
        assert fast["loss"].low == pytest.approx(general["loss"].low, rel=1e-12)
        assert fast["loss"].high == pytest.approx(general["loss"].high, rel=1e-12)


def test_a_large_evaluation_set_is_resampled_in_chunks_with_the_same_draws(monkeypatch):
    """Chunking bounds memory (QQP has 40k rows); it must not change which rows each resample holds."""
    import harness.tasks.bootstrap as bootstrap

    logits, labels = simulated_classification(50)
    whole = bootstrap_intervals(logits, labels, metrics=("accuracy", "f1"), num_labels=2, samples=97, seed=3)
    monkeypatch.setattr(bootstrap, "MAX_RESAMPLED_ROWS", 50 * 7)  # chunks of 7 resamples

    assert bootstrap_intervals(logits, labels, metrics=("accuracy", "f1"), num_labels=2, samples=97, seed=3) == whole


def test_all_correct_predictions_have_no_spread():
    labels = np.array([0, 1] * 50)
    logits = np.eye(2)[labels] * 5.0

    intervals = bootstrap_intervals(logits, labels, metrics=("accuracy", "f1", "matthews_correlation"), num_labels=2, samples=200)

    for name in ("accuracy", "f1", "matthews_correlation"):
        assert (intervals[name].low, intervals[name].high) == (1.0, 1.0), name


# --- resamples on which a metric is undefined ---------------------------------------------------


def test_undefined_resamples_are_left_out_and_counted():
    """Six rows with one positive: about a third of resamples draw no positive, where F1 is undefined.
    The interval is the quantiles of F1 over the other resamples, computed here with sklearn."""
    labels = np.array([1, 0, 0, 0, 0, 0])
    logits = np.eye(2)[[1, 1, 0, 0, 1, 0]]
    draws = np.random.default_rng(5).integers(0, 6, size=(500, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = [f1_score(labels[rows], logits.argmax(axis=1)[rows]) for rows in draws if labels[rows].any()]

    interval = bootstrap_intervals(logits, labels, metrics=("f1",), num_labels=2, samples=500, seed=5, max_undefined=0.5)["f1"]

    assert interval.undefined == 500 - len(kept)
    assert 100 < interval.undefined < 250
    assert (interval.low, interval.high) == pytest.approx(tuple(np.percentile(kept, [2.5, 97.5])))


@pytest.mark.parametrize("path", ["fast", "general"])
def test_too_many_undefined_resamples_raise_with_the_metrics_reason(path):
    labels = np.array([1, 0, 0, 0, 0, 0])
    logits = np.eye(2)[[1, 1, 0, 0, 1, 0]]
    registry = general_path_registry(("f1",)) if path == "general" else None

    with pytest.raises(MetricUndefinedError) as error:
        bootstrap_intervals(logits, labels, metrics=("f1",), num_labels=2, samples=500, seed=5, registry=registry)

    message = str(error.value)
    assert message.startswith("f1 is undefined: on ")
    assert "of 500 bootstrap resamples, more than the 1.00% allowed (on the first such resample, the evaluation labels hold no positive (label 1) example" in message
    assert message.endswith("Its interval needs more evaluation rows; or raise max_undefined, or leave f1 out of the intervals.")


def test_a_correlation_whose_resamples_are_undefined_is_handled_on_the_general_path():
    """Scores taking two values on five rows: some resamples draw one value, where Pearson is undefined."""
    scores = np.array([0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)
    labels = np.array([0.0, 1.0, 2.0, 3.0, 4.0])

    interval = bootstrap_intervals(scores, labels, metrics=("pearson",), num_labels=1, samples=300, max_undefined=0.6)["pearson"]

    draws = np.random.default_rng(0).integers(0, 5, size=(300, 5))
    constant = sum(np.unique(scores[rows]).size == 1 or np.unique(labels[rows]).size == 1 for rows in draws)
    assert interval.undefined == constant > 0


@pytest.mark.parametrize(
    ("outputs", "labels", "metrics", "num_labels", "pattern"),
    [
        (np.eye(2)[[1, 0, 1]], np.array([0, 0, 0]), ("accuracy", "f1"), 2, r"^f1 is undefined: the evaluation labels hold no positive"),
        (np.full(4, 2.0), np.array([0.0, 1.0, 2.0, 3.0]), ("spearmanr",), 1, r"^spearmanr is undefined: the model's predictions are constant"),
    ],
    ids=["f1-no-positive", "spearman-constant-predictions"],
)
def test_a_metric_undefined_on_the_whole_set_raises_its_own_error(outputs, labels, metrics, num_labels, pattern):
    with pytest.raises(MetricUndefinedError, match=pattern):
        bootstrap_intervals(outputs, labels, metrics=metrics, num_labels=num_labels, samples=50)


# --- the loss and the parameters ----------------------------------------------------------------


@given(batch=regression_batches(min_rows=2, max_rows=24))
def test_the_regression_loss_interval_is_over_the_squared_error(batch):
    intervals = bootstrap_intervals(batch.scores, batch.labels, metrics=("loss",), num_labels=1, samples=40, seed=1)

    draws = np.random.default_rng(1).integers(0, len(batch.labels), size=(40, len(batch.labels)))
    errors = (batch.scores.astype(np.float64) - batch.labels.astype(np.float64)) ** 2
    low, high = np.quantile(errors[draws].mean(axis=1), [0.025, 0.975])
    assert (intervals["loss"].low, intervals["loss"].high) == pytest.approx((low, high), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("parameters", "pattern"),
    [
        ({"samples": 0}, r"bootstrap samples must be >= 1, a whole number \(1000 is the default\), got 0"),
        ({"samples": -5}, r"bootstrap samples must be >= 1"),
        ({"samples": 2.5}, r"bootstrap samples must be >= 1"),
        ({"confidence": 1.0}, r"confidence must lie strictly between 0 and 1 \(0.95 for a 95% interval\), got 1.0"),
        ({"confidence": 95}, r"confidence must lie strictly between 0 and 1"),
        ({"max_undefined": 1.0}, r"max_undefined is a share of the resamples, in \[0, 1\) \(0.01 is the default\), got 1.0"),
        ({"metrics": ("pearson",)}, r"metric 'pearson' scores a regression task \(num_labels == 1\), not a 2-class task"),
    ],
    ids=["zero-samples", "negative-samples", "fractional-samples", "confidence-one", "confidence-percent", "max-undefined-one", "wrong-task"],
)
def test_parameters_that_cannot_work_are_rejected(parameters, pattern):
    logits, labels = simulated_classification(10)
    arguments = {"metrics": ("accuracy",), "num_labels": 2, **parameters}

    with pytest.raises(ValueError, match=pattern):
        bootstrap_intervals(logits, labels, **arguments)


def test_an_interval_without_undefined_resamples_keeps_todays_shape():
    assert Interval(0.1, 0.2, 0.95) == Interval(low=0.1, high=0.2, confidence=0.95, undefined=0)
