"""Properties of MRPC's ``TaskMetrics``: compute_metrics agrees with a plain numpy/sklearn reference.

The reference is deliberately independent of the code under test: predictions are
``np.argmax(logits, axis=-1)`` on the raw array, F1 is scikit-learn's ``f1_score``, and inputs come
in every container the Trainer (or a user) may hand over. Where F1 has no value (no positive label,
so recall is 0/0) the reference says so, and the metric must raise rather than report a number.

These are MRPC's properties as a user states them (argmax, F1 of "equivalent", ties to
"not_equivalent", blind to row order and per-row offsets). Input checking (non-finite logits, labels
outside the task or of another length, bf16 tensors) is the task metrics' own and is tested once,
for every task, in ``tests/tasks/test_metrics.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from harness.tasks.glue import MRPC
from harness.tasks.metrics import MetricUndefinedError, TaskMetrics
from tests.strategies import (
    eval_predictions,
    exactly_shifted_logits,
    label_arrays,
    logit_arrays,
    scored_batches,
)


@pytest.fixture(scope="module")
def metrics() -> TaskMetrics:
    """One instance for the module, as a Trainer holds one."""
    return TaskMetrics(MRPC.metrics, num_labels=MRPC.num_labels)


def score(metrics: TaskMetrics, eval_pred) -> dict[str, float]:
    """Score with every warning raised, so a degenerate batch cannot pass by warning instead; a metric
    without a value is ``{"undefined": <metric>}``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return metrics(eval_pred)
        except MetricUndefinedError as error:
            return {"undefined": error.metric}


def reference(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    if not (np.asarray(labels) == 1).any():
        return {"undefined": "f1"}
    return {
        "accuracy": float(np.mean(predictions == labels)),
        "f1": float(f1_score(labels, predictions, zero_division=0.0)),
    }


@given(case=eval_predictions())
def test_scores_match_numpy_argmax_and_sklearn_f1(metrics, case):
    result = score(metrics, case.eval_pred)

    assert result == reference(np.argmax(case.logits, axis=-1), case.labels)
    assert all(0.0 <= value <= 1.0 for value in result.values() if not isinstance(value, str))


@given(logits=logit_arrays())
def test_perfect_predictions_score_one(metrics, logits):
    labels = np.argmax(logits, axis=-1)

    result = score(metrics, (logits, labels))

    # With no positive label, precision and recall are both 0/0: F1 has no value, and says so.
    assert result == ({"accuracy": 1.0, "f1": 1.0} if labels.any() else {"undefined": "f1"})


@given(data=st.data(), batch=scored_batches())
def test_scores_ignore_row_order(metrics, data, batch):
    order = np.array(data.draw(st.permutations(range(len(batch.labels))), label="order"))

    assert score(metrics, (batch.logits[order], batch.labels[order])) == score(metrics, batch)


@given(data=st.data(), case=exactly_shifted_logits())
def test_scores_ignore_a_constant_added_to_a_row(metrics, data, case):
    # Only the argmax counts, so the scores are softmax's: blind to a per-row offset. The offsets
    # are exact in the logits' own dtype (see exactly_shifted_logits), so no rounding can move an
    # argmax and the comparison holds in fp16 and fp32 as in fp64.
    rows = case.logits.shape[0]
    labels = data.draw(label_arrays(min_size=rows, max_size=rows), label="labels")

    assert score(metrics, (case.shifted, labels)) == score(metrics, (case.logits, labels))


@given(data=st.data(), batch=scored_batches())
def test_tied_logits_predict_not_equivalent(metrics, data, batch):
    # Documented in harness.tasks.metrics (eval_rows): a tie goes to the lowest index, 0 ("not_equivalent").
    tied = data.draw(st.lists(st.booleans(), min_size=len(batch.labels), max_size=len(batch.labels)), label="tied")
    logits = batch.logits.copy()
    logits[tied, 1] = logits[tied, 0]
    predicted_one = logits[:, 1] > logits[:, 0]  # stated without argmax, so the tie rule is not assumed

    assert score(metrics, (logits, batch.labels)) == reference(predicted_one.astype(np.int64), batch.labels)
    assert torch.equal(torch.argmax(torch.from_numpy(logits), dim=-1), torch.from_numpy(predicted_one.astype(np.int64)))
