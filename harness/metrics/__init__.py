"""``compute_metrics`` for the Trainer: logits in, GLUE MRPC accuracy and F1 out.

The arithmetic lives in the ``evaluate`` module beside this file (``glue_mrpc/glue_mrpc.py``) so
that ``evaluate.load(MRPC_METRIC_PATH)`` gives users the same metric outside the harness. This
module only checks and shapes what the Trainer hands over: a ``(logits, labels)`` tuple or an
``EvalPrediction``, where the logits may be an array, a tensor (kept in its dtype; bf16 widened to
fp32), a model output (its ``logits``, whether or not it also carries a loss), or a tuple whose
first element is the logits.

Predictions are ``np.argmax(logits, axis=-1)``: on a tie the lowest label index wins, so a row of
equal logits predicts 0 ("not_equivalent"), as ``np.argmax`` and ``torch.argmax`` on CPU both do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MRPC_METRIC_PATH = str(Path(__file__).parent / "glue_mrpc" / "glue_mrpc.py")
LABELS = (0, 1)


class MetricInputError(ValueError):
    """compute_metrics was given logits or labels it cannot score; the message says which."""


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU or in bf16
        value = value.detach().cpu()
        try:
            return value.numpy()  # keeps the dtype: narrowing fp64 to fp32 overflows and merges near-ties
        except TypeError:  # bf16 and other dtypes numpy lacks; widening them to fp32 is exact
            return value.float().numpy()
    return np.asarray(value)


def _first_if_nested(predictions: Any) -> Any:
    if hasattr(predictions, "to_tuple"):  # a transformers ModelOutput
        if getattr(predictions, "logits", None) is not None:
            return predictions.logits  # not to_tuple()[0]: with labels given, the tuple leads with the loss
        predictions = predictions.to_tuple()
    if isinstance(predictions, (tuple, list)) and predictions and not np.isscalar(predictions[0]):
        return predictions[0]
    return predictions


def split_eval_prediction(eval_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(logits, labels)`` as numpy arrays of shapes (n, k) and (n,)."""
    try:
        predictions, labels = eval_pred[0], eval_pred[1]
    except (TypeError, IndexError, KeyError):
        raise MetricInputError(
            f"compute_metrics takes (logits, labels) or an EvalPrediction, got {type(eval_pred).__name__}"
        ) from None
    logits = _to_numpy(_first_if_nested(predictions))
    labels = _to_numpy(labels)
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise MetricInputError(f"logits must have shape (n, num_labels) with n >= 1 and num_labels >= 2, got {logits.shape}")
    if not np.issubdtype(logits.dtype, np.number):
        raise MetricInputError(f"logits must be numeric, got dtype {logits.dtype}")
    if not np.isfinite(logits).all():
        bad = np.flatnonzero(~np.isfinite(logits).all(axis=1))
        raise MetricInputError(
            f"logits hold NaN or infinite values in {bad.size} of {logits.shape[0]} rows (first: row {bad[0]}); "
            "the model diverged or ran in a precision that overflowed (try fp32 or a lower learning rate)"
        )
    labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise MetricInputError(f"got {logits.shape[0]} rows of logits but labels of shape {labels.shape}")
    if not np.isin(labels, LABELS).all():
        unexpected = sorted(set(np.unique(labels).tolist()) - set(LABELS))
        raise MetricInputError(f"labels must be 0 or 1 (MRPC), found {unexpected[:5]}")
    return logits, labels.astype(np.int64)


class MrpcMetrics:
    """A ``compute_metrics`` callable; it loads the ``evaluate`` module once and reuses it."""

    def __init__(self) -> None:
        import evaluate

        self._metric = evaluate.load(MRPC_METRIC_PATH)

    def __call__(self, eval_pred: Any) -> dict[str, float]:
        logits, labels = split_eval_prediction(eval_pred)
        predictions = np.argmax(logits, axis=-1)
        return self._metric.compute(predictions=predictions, references=labels)


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    """One-off scoring (loads the metric each call); pass :class:`MrpcMetrics` to a Trainer instead.

    >>> compute_metrics((np.array([[0.1, 2.0], [3.0, -1.0]]), np.array([1, 1])))
    {'accuracy': 0.5, 'f1': 0.6666666666666666}
    """
    return MrpcMetrics()(eval_pred)
